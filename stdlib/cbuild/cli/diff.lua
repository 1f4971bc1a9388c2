-- cbuild diff CONTAINER: what the container changed in its image's filesystem, as docker diff
-- prints it: "A /path" added, "C /path" changed, "D /path" deleted, read from its overlay upper
-- dir (a whiteout is a deletion; a directory there holds changes, so it counts as changed
-- unless the image lacks it).
local fs = require "cbuild.core.fs"
local errors = require "cbuild.errors"
local state = require "cbuild.container.state"

local M = { summary = "Inspect changes to files or directories on a container's filesystem" }

function M.setup(cmd)
  cmd:argument("container", "Container name or ID.")
end

-- Does path exist in the image, under the overlay (the lower dirs only)?
local function in_image(lowers, rel)
  for _, dir in ipairs(lowers) do
    if fs.lstat(dir .. rel) then
      return true
    end
  end
  return false
end

local function walk(upper, rel, lowers, out)
  local names = errors.need("read " .. upper .. rel, fs.readdir(upper .. (rel == "" and "/" or rel)))
  table.sort(names)
  for _, n in ipairs(names) do
    local p = rel .. "/" .. n
    local st = fs.lstat(upper .. p)
    if st and st.type == "char" and st.rdevmajor == 0 and st.rdevminor == 0 then
      out[#out + 1] = "D " .. p -- overlayfs's whiteout
    elseif st then
      out[#out + 1] = (in_image(lowers, p) and "C " or "A ") .. p
      if st.type == "dir" then
        walk(upper, p, lowers, out)
      end
    end
  end
end

function M.run(args, ctx)
  local imgs = ctx:store()
  local c = state.must_lookup(imgs, args.container)
  local lowers = require("cbuild.build.snapshot").ensure(imgs, c.Cbuild.layers)
  local out = {}
  walk(state.dir(imgs, c.Id) .. "/upper", "", lowers, out)
  -- the mount points the runtime made (an empty /etc/hosts...) are not the container's doing,
  -- nor is the copy-up of their parent dirs when nothing else changed in them
  local hide = {}
  for _, s in ipairs(c.Cbuild.stubs or {}) do
    local p = "/" .. s:gsub("^/+", "")
    hide[p] = true
    for parent in p:gmatch "()/" do
      if parent > 1 then
        hide[p:sub(1, parent - 1)] = "unless-other"
      end
    end
  end
  local shown = {}
  for _, line in ipairs(out) do
    local path = line:sub(3)
    if hide[path] == "unless-other" then
      for _, other in ipairs(out) do
        local o = other:sub(3)
        if o:sub(1, #path + 1) == path .. "/" and not hide[o] then
          shown[#shown + 1] = line
          break
        end
      end
    elseif not hide[path] then
      shown[#shown + 1] = line
    end
  end
  for _, line in ipairs(shown) do
    io.stdout:write(line, "\n")
  end
  return 0
end

return M
