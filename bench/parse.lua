-- bench/parse.lua CBUILD_DIR DOCKERFILE N: parse DOCKERFILE N times in one process (the parse
-- tree, then the typed instructions, as `cbuild build` does) and print the milliseconds per
-- parse.  CBUILD_DIR holds cbuild.so; stdlib/ is found next to this script.
local dir, file, n = arg[1], arg[2], math.tointeger(tonumber(arg[3] or "100"))
local src = debug.getinfo(1, "S").source:sub(2):match "^(.*)/bench/[^/]*$" or "."
package.path = src .. "/stdlib/?.lua;" .. src .. "/stdlib/?/init.lua;" .. package.path
package.cpath = dir .. "/?.so;" .. package.cpath
local parser = require "cbuild.dockerfile.parser"
local instructions = require "cbuild.dockerfile.instructions"
local f = assert(io.open(file, "rb"))
local text = f:read "a"
f:close()
local count = 0
local t0 = os.clock()
for _ = 1, n do
  local ast = parser.parse(text, { file = "Dockerfile" })
  local r = instructions.parse(ast, { file = "Dockerfile" })
  count = #r.stages
end
local ms = (os.clock() - t0) * 1000 / n
io.stdout:write(string.format("%.3f ms per parse (%d stages)\n", ms, count))
