-- build --build-context NAME=DIR|docker-image://REF: what COPY --from=NAME and RUN
-- --mount=from=NAME read, and what replaces the stage or base image NAME (BuildKit's rules).
local h = require "spec.helpers"
local q = h.quote

local root, extra

local function build(df, flags)
  local ctx = h.tmpdir "ncmain"
  h.write(ctx .. "/Dockerfile", df)
  return h.cbuild(root, "build -q -t nc " .. flags .. " " .. q(ctx))
end

local function run(cmd)
  local status, out, err = h.cbuild(root, "run --rm nc " .. cmd)
  assert.are.equal(0, status, out .. err)
  return out
end

describe("build --build-context", function()
  setup(function()
    root = h.tmpdir "ncroot"
    h.import_busybox(root)
    h.ok(string.format("CBUILD_ROOT=%s %s tag busybox pinned:1", q(root), q(h.bin)))
    extra = h.tmpdir "ncextra"
    h.write(extra .. "/sub/f", "extra\n")
    h.write(extra .. "/secret.key", "no\n")
    h.write(extra .. "/.dockerignore", "*.key\n")
  end)
  teardown(h.cleanup)

  it("a directory feeds COPY --from and RUN --mount=from, its .dockerignore applied", function()
    local status, out, err = build("FROM busybox\nCOPY --from=extra /sub/f /copied\n"
      .. "RUN --mount=from=extra,target=/mnt cat /mnt/sub/f > /mounted\n", "--build-context extra=" .. q(extra))
    assert.are.equal(0, status, out .. err)
    assert.are.equal("extra\nextra\n", run "cat /copied /mounted")
    local _
    status, _, err = build("FROM busybox\nCOPY --from=extra /secret.key /\n", "--build-context extra=" .. q(extra))
    assert.are.equal(1, status)
    assert.matches('"/secret.key" not found', err, 1, true)
  end)

  it("a docker-image:// context replaces the base image of that name", function()
    local status, out, err = build("FROM alpine\nRUN echo on-busybox > /x\n",
      "--build-context alpine=docker-image://pinned:1")
    assert.are.equal(0, status, out .. err)
    assert.are.equal("on-busybox\n", run "cat /x")
  end)

  it("replaces a stage of that name; its instructions do not run", function()
    local status, out, err = build("FROM busybox AS gen\nRUN exit 3\nFROM busybox\n"
      .. "COPY --from=gen /sub/f /gen\n", "--build-context gen=" .. q(extra))
    assert.are.equal(0, status, out .. err)
    assert.are.equal("extra\n", run "cat /gen")
  end)

  it("a directory as FROM is its files on scratch", function()
    local status, out, err = build("FROM busybox AS tools\nFROM extra\nCOPY --from=tools /bin/busybox /bin/sh\n",
      "--build-context extra=" .. q(extra))
    assert.are.equal(0, status, out .. err)
    assert.are.equal("extra\n", run "/bin/sh -c 'read l < /sub/f; echo $l'")
  end)

  it("refuses sources it cannot read, in one line", function()
    local status, _, err = build("FROM busybox\n", "--build-context x=https://example.com/repo.git")
    assert.are.equal(1, status)
    assert.are.equal("cbuild: error: --build-context x: https sources are not supported (a directory or "
      .. "docker-image://)\n", err)
    status, _, err = build("FROM busybox\n", "--build-context x=/nonexistent")
    assert.are.equal(1, status)
    assert.matches('"/nonexistent" is not a directory', err, 1, true)
  end)
end)
