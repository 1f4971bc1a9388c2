-- One image per entry of a table, in one run: the same little tool on three bases.
--   cbuild build examples/matrix                       (all three: matrix:busybox, :debian, :scratch)
--   cbuild build --build-arg VARIANTS=busybox,scratch examples/matrix
-- build.lua is picked up because the directory has no Dockerfile.
local cb = require "cbuild"

local variants = {
  busybox = { base = "busybox" },
  debian = { base = "debian:bookworm" },
  scratch = { base = "scratch" }, -- gets busybox's static binary as its shell
}

local wanted = {}
for name in (cb.args.VARIANTS or "busybox,debian,scratch"):gmatch "[^,%s]+" do
  if not variants[name] then
    error("unknown variant '" .. name .. "'")
  end
  wanted[name] = true
end

local busybox = cb.from("busybox", { as = "busybox" })
local script = cb.read "hello.sh.in"

local outputs = {}
for name, v in pairs(variants) do
  if wanted[name] then
    local img = cb.from(v.base)
    if v.base == "scratch" then
      img = img:copy { from = busybox, src = "/bin/busybox", dest = "/bin/" }
        :run { "/bin/busybox", "ln", "-s", "busybox", "/bin/sh" }
    end
    outputs[name] = img
      :env { VARIANT = name }
      :write("/usr/local/bin/hello", cb.template(script, { variant = name, base = v.base }), { mode = "0755" })
      :label { ["org.example.variant"] = name }
      :cmd { "/usr/local/bin/hello" }
  end
end

-- build them all (one after the other for now; independent, so a parallel solver can overlap
-- them) and name each
for name, result in pairs(cb.build(outputs)) do
  result:tag("matrix:" .. name)
end
