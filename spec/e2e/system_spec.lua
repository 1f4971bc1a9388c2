-- system df, system prune and builder prune on a busybox store: docker's table and wording,
-- what is kept (named images, images of containers, the cache unless pruned) and what goes.
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

local function build(dockerfile, tag)
  local ctx = h.tmpdir "ctx"
  h.write(ctx .. "/Dockerfile", dockerfile)
  return ok("build -q " .. (tag and ("-t " .. tag .. " ") or "") .. q(ctx)):gsub("%s+$", "")
end

local function nblobs()
  return #h.listdir(root .. "/blobs/sha256")
end

local function df()
  local rows = {}
  for line in ok("system df"):gmatch "[^\n]+" do
    local typ, total, active, size, rest = line:match "^(%a[%a ]-)%s%s+(%d+)%s+(%d+)%s+(%S+)%s+(.*)$"
    if typ then
      rows[typ] = { total = tonumber(total), active = tonumber(active), size = size, reclaimable = rest }
    end
  end
  return rows
end

setup(function()
  root = h.tmpdir "sys"
  h.import_busybox(root)
end)

teardown(function()
  cb "rm -f keeper"
  h.cleanup()
end)

describe("system df", function()
  it("prints docker's table", function()
    local out = ok "system df"
    assert.matches("^TYPE%s+TOTAL%s+ACTIVE%s+SIZE%s+RECLAIMABLE\n", out)
    assert.matches("\nImages          1         0         %d[%d.]*[kM]?B%s+%d[%d.]*[kM]?B %(100%%%)\n", out)
    assert.matches("\nContainers      0         0         0B        0B %(0%%%)\n", out)
    assert.matches("\nLocal Volumes   0         0         0B        0B %(0%%%)\n", out)
    assert.matches("\nBuild Cache     0         0         0B        0B\n$", out)
  end)

  it("counts build cache records and containers", function()
    build("FROM busybox\nRUN echo one > /one\n", "one")
    ok "run --name keeper busybox true"
    local rows = df()
    assert.are.equal(2, rows.Images.total)
    assert.are.equal(1, rows.Images.active)
    assert.are.equal(1, rows.Containers.total)
    assert.are.equal(0, rows.Containers.active)
    assert.is_true(rows["Build Cache"].total >= 1)
  end)
end)

describe("builder prune", function()
  it("asks first, and does nothing on no", function()
    local before = nblobs()
    local _, err = ok("builder prune", { stdin = "n\n" })
    assert.matches("WARNING! This will remove all dangling build cache. Are you sure you want to continue? [y/N]",
      err, 1, true)
    assert.are.equal(before, nblobs())
  end)

  it("drops the cache of deleted images, keeps what named images use", function()
    build("FROM busybox\nRUN echo two > /two\n", "two")
    ok "rmi two"
    local before = nblobs()
    local out = ok "builder prune -f"
    assert.matches("Total reclaimed space: %d[%d.]*[kM]?B\n$", out)
    assert.is_true(nblobs() < before)
    -- the image that is still named keeps its cache: rebuilding it runs nothing
    local ctx = h.tmpdir "ctx"
    h.write(ctx .. "/Dockerfile", "FROM busybox\nRUN echo one > /one\n")
    local _, err = ok("build --progress=plain -t one " .. q(ctx))
    assert.matches("#2 CACHED", err, 1, true)
    assert.are.same({}, h.bad_blobs(root))
  end)

  it("-a drops every record and the RUN --mount caches", function()
    build("FROM busybox\nRUN --mount=type=cache,target=/c echo x > /c/x && echo three > /three\n", "three")
    assert.is_true(#h.listdir(root .. "/cache/mounts") > 0)
    ok "builder prune -af"
    assert.are.same({}, h.listdir(root .. "/cache/keys"))
    assert.are.same({}, h.listdir(root .. "/cache/mounts"))
    -- images are untouched and still complete
    assert.matches("three", ok "images")
    assert.are.same({}, h.bad_blobs(root))
    assert.matches("three\n", ok "run --rm three cat /three")
  end)
end)

describe("system prune", function()
  it("removes stopped containers and dangling images; -a every image no container uses", function()
    local dangling = build("FROM busybox\nRUN echo four > /four\n")
    local out = ok "system prune -f"
    assert.matches("Deleted Containers:\n%x+\n", out)
    assert.matches("Deleted Images:\n", out)
    assert.matches("deleted: " .. dangling, out, 1, true)
    assert.matches("Total reclaimed space: ", out, 1, true)
    assert.matches("one", ok "images") -- named images stay
    assert.are.same({}, h.bad_blobs(root))

    ok "run --name keeper busybox true"
    out = ok "system prune -a -f"
    assert.matches("untagged: docker.io/library/one:latest", out, 1, true)
    local images = ok "images"
    assert.not_matches("one", images)
    -- the stopped container was removed first, so busybox went too; everything is gone
    assert.are.same({}, h.listdir(root .. "/snapshots"))
    assert.are.equal(0, nblobs())
    local rows = df()
    assert.are.equal(0, rows.Images.total)
    assert.are.equal("0B", rows["Build Cache"].size)
  end)

  it("keeps the image of a running container", function()
    h.import_busybox(root)
    ok "run -d --name keeper busybox sleep 30"
    ok "system prune -a -f"
    assert.matches("busybox", ok "images")
    assert.matches("hi\n", ok "exec keeper echo hi")
    ok "rm -f keeper"
    assert.are.same({}, h.bad_blobs(root))
  end)
end)

describe("image prune and container prune", function()
  it("image prune drops dangling images only; -a every image no container uses", function()
    h.import_busybox(root)
    local dangling = build("FROM busybox\nRUN echo five > /five\n")
    build("FROM busybox\nRUN echo six > /six\n", "six")
    local out = ok "image prune -f"
    assert.matches("deleted: " .. dangling, out, 1, true)
    local images = ok "image ls"
    assert.matches("six", images)
    assert.matches("busybox", images)
    ok "run --name user busybox true" -- a stopped container still holds busybox
    out = ok "image prune -a -f"
    assert.matches("untagged: docker.io/library/six:latest", out, 1, true)
    images = ok "image ls"
    assert.not_matches("six", images)
    assert.matches("busybox", images)
    assert.are.same({}, h.bad_blobs(root))
  end)

  it("container prune removes stopped containers, keeps running ones", function()
    ok "run -d --name running busybox sleep 30"
    local out = ok "container prune -f"
    assert.matches("Deleted Containers:\n%x+\n", out) -- "user", from the spec above
    local names = ok "ps -a --format '{{.Names}}'"
    assert.are.equal("running\n", names)
    ok "rm -f running"
  end)
end)

describe("info", function()
  it("reports the store, the machine and container counts, as docker info", function()
    local out = ok "info"
    assert.matches("\n Docker Root Dir: " .. root:gsub("%p", "%%%0") .. "\n", out)
    assert.matches("\n CPUs: %d+\n", out)
    assert.matches("\n Cgroup Version: [12]\n", out)
    ok "run -d --name counted busybox sleep 30"
    assert.are.equal("1 1 overlay\n", ok "system info --format '{{.ContainersRunning}} {{.Images}} {{.Driver}}'")
    ok "rm -f counted"
  end)
end)
