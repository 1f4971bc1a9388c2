-- The Lua half of the C embedding API (lua/lcb_embed.c, core/include/cbuild.h): run a recipe
-- held in a string as `cbuild build` would, with the embedder's options and host functions.
local errors = require "cbuild.errors"

local M = {}

--- Run a recipe and build its outputs.  o: text, name ("recipe.lua"), tag, root, context
--- (directory), build_args ({K = V}), allow_host_exec, quiet, host ({name = function}).
--- Returns the image ID of the last output; raises cbuild errors.
function M.run(o)
  local session = require "cbuild.recipe.session"
  local loader = require "cbuild.recipe.loader"
  local result = require "cbuild.recipe.result"
  local cli = require "cbuild.recipe.cli"
  local reference = require "cbuild.image.reference"

  local tag = o.tag and reference.must(o.tag)
  local s = session.configure {
    root = o.root, context_dir = o.context or ".", build_args = o.build_args or {},
    allow_host_exec = o.allow_host_exec, host = o.host, quiet = o.quiet,
  }
  local ok, r = pcall(function()
    local lease <close> = require("cbuild.build.gc").lease(s:images())
    s.opts.lease = lease
    local name = o.name or "recipe.lua"
    local ret = loader.run(o.text, name, { allow_host_exec = o.allow_host_exec, host = o.host })
    local outputs = cli.outputs(ret)
    if #outputs == 0 then
      for _, x in ipairs(s.outputs) do
        outputs[#outputs + 1] = { name = x.name, value = x }
      end
    end
    if #outputs == 0 then
      errors.raise_at({ file = name }, "the recipe returned nothing to build: return an image state " ..
        "(or a table of them), or call cb.build")
    end
    if tag and #outputs > 1 then
      errors.raise("a tag names one image, and the recipe has %d outputs", #outputs)
    end
    local todo = {}
    for _, x in ipairs(outputs) do
      if not result.is(x.value) then
        todo[#todo + 1] = { img = x.value, name = x.name }
      end
    end
    local built = result.build_many(todo)
    local last = built[#built] or outputs[#outputs].value
    if tag then
      last:tag(tag:full())
    end
    return last.id
  end)
  s:close()
  session.reset()
  if not ok then
    error(r, 0)
  end
  return r
end

--- The text an embedder reports for an error value (a cbuild error or anything else).
function M.message(e)
  if errors.is(e) then
    return errors.format(e)
  end
  return tostring(e)
end

return M
