-- Running recipe text: the sandbox (no host commands, reads only inside the context), and
-- errors reported at the recipe's own line.
local loader = require "cbuild.recipe.loader"
local session = require "cbuild.recipe.session"
local context = require "cbuild.build.context"
local errors = require "cbuild.errors"
local h = require "spec.helpers"

local function run(text, opts)
  return pcall(loader.run, text, "recipe.lua", opts)
end

local function fails(text, want, opts)
  local ok, e = run(text, opts)
  assert.is_false(ok, "the recipe ran")
  assert.is_true(errors.is(e), tostring(e))
  assert.are.equal(want, tostring(e))
  return e
end

describe("recipe sandbox", function()
  local dir
  setup(function()
    dir = h.tmpdir "sandbox"
    h.write(dir .. "/ctx/data.txt", "in the context\n")
    h.write(dir .. "/ctx/lib/greet.lua", "return function(n) return 'hi ' .. n end\n")
    h.write(dir .. "/outside.txt", "secret\n")
    h.ok("ln -s ../outside.txt " .. h.quote(dir .. "/ctx/escape"))
  end)
  teardown(h.cleanup)
  before_each(function()
    session.configure { images = {}, context = context.open(dir .. "/ctx"), build_args = { V = "7" } }
  end)
  after_each(session.reset)

  it("reads files of the context, requires its modules, and returns values", function()
    local ok, r = run([[
local cb = require "cbuild"
local f = assert(io.open("data.txt"))
local text = f:read "a"
f:close()
local greet = require "lib.greet"
return text, cb.read "/data.txt", greet(cb.args.V), cb.context():exists "lib/greet.lua"
]])
    assert.is_true(ok, tostring(r))
    assert.are.same({ "in the context\n", "in the context\n", "hi 7", true }, { r[1], r[2], r[3], r[4] })
  end)

  it("keeps reads inside the context (.. and symlinks resolve inside it)", function()
    fails('local f = io.open("../outside.txt")\nreturn f:read "a"\n',
      'recipe.lua:1: io.open: "../outside.txt" not found in the build context')
    local ok, r = run 'local f = assert(io.open("escape")) return f:read "a"'
    assert.is_false(ok and r[1] == "secret\n", "read a file outside the context")
    fails('local cb = require "cbuild"\nreturn cb.context("/etc")',
      'recipe.lua:2: cb.context: "/etc" not found in the build context')
    fails('return io.open("data.txt", "w")',
      'recipe.lua:1: io.open: a recipe can only read files (mode "w" needs --allow host-exec)')
  end)

  it("runs no host commands and loads no internals", function()
    fails('local p = io.popen "id"', "recipe.lua:1: io.popen: a recipe cannot run host commands or change host " ..
      "files (cbuild build --allow host-exec)")
    fails('os.execute "true"', "recipe.lua:1: os.execute: a recipe cannot run host commands or change host " ..
      "files (cbuild build --allow host-exec)")
    fails('os.remove "data.txt"', "recipe.lua:1: os.remove: a recipe cannot run host commands or change host " ..
      "files (cbuild build --allow host-exec)")
    fails('local fs = require "cbuild.core.fs"', "recipe.lua:1: module 'cbuild.core.fs' not found: a recipe can " ..
      "require \"cbuild\" and Lua files of its build context (cbuild's internal modules need --allow host-exec)")
    fails('return debug.getinfo(1)', "recipe.lua:1: attempt to index a nil value (global 'debug')")
    fails('return load(string.dump(print))', "recipe.lua:1: attempt to call a nil value (field 'dump')")
    fails('string.rep = nil\nreturn getmetatable("").__index', "recipe.lua:2: attempt to index a nil value")
    assert.is_function(string.rep)
  end)

  it("--allow host-exec unlocks the full library", function()
    local ok, r = run('local p = io.popen "echo host" local s = p:read "a" p:close() return s, ' ..
      'require("cbuild.core.fs") ~= nil', { allow_host_exec = true })
    assert.is_true(ok, tostring(r))
    assert.are.equal("host\n", r[1])
    assert.is_true(r[2])
  end)

  it("reports errors at the recipe's line: misuse, runtime errors, error(), syntax", function()
    fails('local cb = require "cbuild"\n\nreturn cb.from(42)\n',
      "recipe.lua:3: cb.from: expected an image reference (string) or an image state, got number")
    fails('local t\n\nlocal x = t.field\n', "recipe.lua:3: attempt to index a nil value (local 't')")
    fails('local function f()\n  error("boom")\nend\nf()\n', "recipe.lua:2: boom")
    fails('return 1 +\n', "recipe.lua:2: unexpected symbol near <eof>")
    fails('local cb = require "cbuild"\nlocal x = cb.template("${a}", {})\n',
      "recipe.lua:2: cb.template: no value for ${a}")
    fails('local cb = require "cbuild"\nlocal s = cb.scratch()\nlocal t = s:workdir(5)\n',
      "recipe.lua:3: workdir: expected a path, got number")
  end)
end)
