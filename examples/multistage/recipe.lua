-- The multi-stage C build of ./Dockerfile as a recipe:
--   cbuild build -f examples/multistage/recipe.lua -t hello examples/multistage
-- Same states, same cache keys: after building one, the other is fully CACHED and the image is
-- the same.
local cb = require "cbuild"

local build = cb.from("debian:bookworm", { as = "build" })
  :run "apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*"
  :workdir "/src"
  :copy("hello.c", "./")
  :run "gcc -static -O2 -o /hello hello.c"

return cb.from("scratch")
  :copy { from = build, src = "/hello", dest = "/hello" }
  :entrypoint { "/hello" }
  :cmd { "world" }
