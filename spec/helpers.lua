-- Shared helpers for specs: temp dirs, running commands, and the cbuild under test
-- ($CBUILD_BUILD/cbuild, default build/cbuild) against a private store.
local M = {}

M.src = os.getenv "PWD"
M.build = os.getenv "CBUILD_BUILD" or "build"
M.bin = M.src .. "/" .. M.build .. "/cbuild"

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = quote

--- Run a shell command; returns status (number), stdout, stderr.
function M.sh(cmd, stdin)
  local errf = os.tmpname()
  local inf
  if stdin then
    inf = os.tmpname()
    local f = assert(io.open(inf, "wb"))
    f:write(stdin)
    f:close()
    cmd = cmd .. " < " .. quote(inf)
  end
  -- The ASan run preloads the sanitizer runtimes into lua5.4 only: no command we start should
  -- inherit them (cbuild is linked with them; host tools like ps deadlock under them).
  local p = assert(io.popen("(unset LD_PRELOAD; " .. cmd .. ") 2>" .. quote(errf), "r"))
  local out = p:read "a"
  local _, _, status = p:close()
  local f = assert(io.open(errf, "rb"))
  local err = f:read "a"
  f:close()
  os.remove(errf)
  if inf then
    os.remove(inf)
  end
  return status, out, err
end

--- Run a shell command that must succeed; returns its stdout.
function M.ok(cmd)
  local status, out, err = M.sh(cmd)
  if status ~= 0 then
    error(string.format("command failed (%s): %s\n%s%s", tostring(status), cmd, out, err), 2)
  end
  return out
end

local tmpdirs = {}

--- A fresh temp directory, removed at exit of the spec run.
function M.tmpdir(name)
  local base = os.getenv "CBUILD_TEST_TMP" or "/tmp"
  local d = M.ok("mktemp -d " .. quote(base .. "/cbuild-" .. (name or "spec") .. ".XXXXXX")):gsub("%s+$", "")
  tmpdirs[#tmpdirs + 1] = d
  return d
end

--- Names in a directory, sorted.
function M.listdir(dir)
  local out = {}
  for name in M.ok("ls -A " .. quote(dir)):gmatch "[^\n]+" do
    out[#out + 1] = name
  end
  return out
end

--- Write a file (creating parent directories).
function M.write(path, content, mode)
  M.ok("mkdir -p " .. quote(path:match "^(.*)/" or "."))
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  if mode then
    M.ok(string.format("chmod %o %s", mode, quote(path)))
  end
end

--- Read a whole file.
function M.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read "a"
  f:close()
  return s
end

--- Run the cbuild under test with a store at root: returns status, stdout, stderr.
function M.cbuild(root, args, opts)
  opts = opts or {}
  local env = "CBUILD_ROOT=" .. quote(root)
  for k, v in pairs(opts.env or {}) do
    env = env .. " " .. k .. "=" .. quote(v)
  end
  return M.sh("cd " .. quote(opts.cwd or M.src) .. " && env " .. env .. " " .. quote(M.bin) .. " " .. args,
    opts.stdin)
end

--- The static hello-world binary (compiled once per run) in a fresh context directory.
function M.helloworld_context()
  local dir = M.tmpdir "hello"
  M.ok(string.format("gcc -static -O2 -o %s/helloworld %s/examples/helloworld/hello.c", quote(dir), quote(M.src)))
  M.ok(string.format("cp %s/examples/helloworld/Dockerfile %s/", quote(M.src), quote(dir)))
  return dir
end

--- Import busybox (examples/busybox/make-busybox.sh, from Debian's busybox-static) into the
--- store at root as busybox:latest.
function M.import_busybox(root)
  M.ok(string.format("CBUILD_ROOT=%s %s/examples/busybox/make-busybox.sh %s busybox", quote(root), quote(M.src),
    quote(M.bin)))
end

--- A function(args [, opts]) that runs cbuild at root (as M.cbuild), which must exit 0, and
--- returns its stdout; a failure raises at the caller's line with what cbuild printed.
function M.must(root)
  return function(args, opts)
    local status, out, err = M.cbuild(root, args, opts)
    if status ~= 0 then
      error(string.format("cbuild %s: exit %s\n%s%s", args, tostring(status), out, err), 2)
    end
    return out
  end
end

--- Check every blob of a store holds the bytes of its name; returns a list of bad names.
function M.bad_blobs(root)
  local bad = {}
  local out = M.ok("cd " .. quote(root .. "/blobs/sha256") .. " && sha256sum -- * 2>/dev/null || true")
  for sum, name in out:gmatch "(%x+)%s+%*?(%S+)" do
    if sum ~= name then
      bad[#bad + 1] = name
    end
  end
  return bad
end

--- Poll pred every 50 ms, up to tries times (default 100: 5 s); true once it holds.
function M.wait_for(pred, tries)
  local sys = require "cbuild.core.sys"
  for _ = 1, tries or 100 do
    if pred() then
      return true
    end
    sys.poll({}, 50)
  end
  return false
end

--- Remove temp dirs made by tmpdir().
function M.cleanup()
  for _, d in ipairs(tmpdirs) do
    os.execute("rm -rf " .. quote(d))
  end
  tmpdirs = {}
end

return M
