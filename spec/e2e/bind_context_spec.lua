-- RUN --mount=type=bind from the build context shows the context after .dockerignore, as
-- BuildKit mounts it: ignored files never reach the step, read-only or rw, for the main
-- context and for named contexts; writes to an rw mount never reach the host.
local h = require "spec.helpers"
local q = h.quote

local root

local function cb(args, opts)
  return h.cbuild(root, args, opts)
end

local function ok(args, opts)
  local status, out, err = cb(args, opts)
  assert.are.equal(0, status, out .. err)
  return out, err
end

-- Build dockerfile in ctx (extra build flags), then the lines of /listing in the image.
local function listing(ctx, dockerfile, flags)
  h.write(ctx .. "/Dockerfile", dockerfile)
  ok("build -q -t bindctx " .. (flags or "") .. " " .. q(ctx))
  local out = ok "run --rm bindctx cat /listing"
  local lines = {}
  for line in out:gmatch "[^\n]+" do
    lines[#lines + 1] = line
  end
  table.sort(lines)
  return lines
end

local function context()
  local ctx = h.tmpdir "bindctx"
  h.write(ctx .. "/a.txt", "a\n")
  h.write(ctx .. "/secret.txt", "s3cr3t\n")
  h.write(ctx .. "/x.log", "log\n")
  h.write(ctx .. "/keep.log", "kept\n")
  h.write(ctx .. "/sub/shown", "shown\n")
  h.write(ctx .. "/sub/hidden", "hidden\n")
  h.write(ctx .. "/.dockerignore", "secret.txt\n*.log\n!keep.log\nsub/hidden\n")
  return ctx
end

local function scratch_left()
  local left = {}
  for _, name in ipairs(h.listdir(root .. "/tmp")) do
    if name:match "^run%-" then
      left[#left + 1] = name
    end
  end
  return left
end

setup(function()
  root = h.tmpdir "bindroot"
  h.import_busybox(root)
end)

teardown(function()
  h.cleanup()
end)

describe("RUN --mount=type=bind of the build context", function()
  it("does not show ignored files (read-only, the default)", function()
    local ctx = context()
    local lines = listing(ctx, "FROM busybox\n\z
      RUN --mount=type=bind,target=/ctx cd /ctx && find . -type f | sort > /listing && cat keep.log >> /listing\n")
    assert.are.same({ "./.dockerignore", "./Dockerfile", "./a.txt", "./keep.log", "./sub/shown", "kept" }, lines)
    assert.are.same({}, scratch_left())
  end)

  it("a source= directory: its ignored files are left out too", function()
    local ctx = context()
    local lines = listing(ctx, "FROM busybox\n\z
      RUN --mount=type=bind,source=sub,target=/s ls /s > /listing\n")
    assert.are.same({ "shown" }, lines)
  end)

  it("an ignored source= is not found", function()
    local ctx = context()
    h.write(ctx .. "/Dockerfile", "FROM busybox\nRUN --mount=type=bind,source=secret.txt,target=/s cat /s\n")
    local status, out, err = cb("build -q " .. q(ctx))
    assert.are_not.equal(0, status, out)
    assert.matches('"secret.txt" not found in build context', err, 1, true)
  end)

  it("rw=true: the step may write, the host files stay as they were", function()
    local ctx = context()
    local lines = listing(ctx, "FROM busybox\n\z
      RUN --mount=type=bind,target=/ctx,rw=true echo changed > /ctx/a.txt && rm /ctx/keep.log && \z
      ls /ctx > /listing && cat /ctx/a.txt >> /listing\n")
    assert.are.same({ "Dockerfile", "a.txt", "changed", "sub" }, lines)
    assert.are.equal("a\n", h.read(ctx .. "/a.txt"))
    assert.are.equal("kept\n", h.read(ctx .. "/keep.log"))
    assert.are.same({}, scratch_left())
  end)

  it("a context without ignore patterns is bound as it is", function()
    local ctx = h.tmpdir "plainctx"
    h.write(ctx .. "/a.txt", "a\n")
    h.write(ctx .. "/x.log", "log\n")
    local lines = listing(ctx, "FROM busybox\nRUN --mount=type=bind,target=/ctx ls /ctx > /listing\n")
    assert.are.same({ "Dockerfile", "a.txt", "x.log" }, lines)
  end)

  it("a named context (--build-context) is filtered by its own .dockerignore", function()
    local ctx = h.tmpdir "mainctx"
    local other = context()
    local lines = listing(ctx, "FROM busybox\n\z
      RUN --mount=type=bind,from=other,target=/o ls -a /o > /listing\n", "--build-context other=" .. q(other))
    assert.are.same({ ".", "..", ".dockerignore", "a.txt", "keep.log", "sub" }, lines)
  end)
end)
