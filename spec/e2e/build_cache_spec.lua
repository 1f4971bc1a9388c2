-- The build cache end to end: the issue's vim build on debian:bookworm (examples/debian/
-- make-debian.sh; apt reaches the mirror over the default host network), run by podman from
-- `cbuild save`, fully CACHED the second time; and a COPY of a many-file context where one
-- changed file reruns only its step and those after it.
local h = require "spec.helpers"
local json = require "cbuild.core.json"
local sys = require "cbuild.core.sys"
local q = h.quote

local root

local function cb(args, opts)
  return h.cbuild(root, args, opts)
end

local function now()
  local s, ns = sys.clock_gettime()
  return s + ns / 1e9
end

local function blob(digest)
  return root .. "/blobs/sha256/" .. digest:gsub("^sha256:", "")
end

local function manifest_of(name)
  local idx = json.decode(h.read(root .. "/index.json"))
  for _, m in ipairs(idx.manifests) do
    if (m.annotations or {})["org.opencontainers.image.ref.name"] == name then
      return json.decode(h.read(blob(m.digest)))
    end
  end
  error("no image " .. name)
end

local function has(cmd)
  return h.sh("command -v " .. cmd .. " >/dev/null") == 0
end

setup(function()
  root = h.tmpdir "bcache"
  h.ok(string.format("CBUILD_ROOT=%s %s/examples/debian/make-debian.sh %s debian:bookworm", q(root), q(h.src),
    q(h.bin)))
end)

teardown(h.cleanup)

describe("FROM debian:bookworm + RUN apt-get install -y vim #debian", function()
  local ctx
  setup(function()
    ctx = h.tmpdir "vim"
    h.write(ctx .. "/Dockerfile", "FROM debian:bookworm\nRUN apt-get update && apt-get install -y vim\n")
  end)

  it("builds a layer holding usr/bin/vim.basic, which podman runs; the second build is all CACHED", function()
    local status, out, err = cb("build --progress=plain -t me/vim " .. q(ctx))
    assert.are.equal(0, status, out .. err)
    local m = manifest_of "docker.io/me/vim:latest"
    local layer = blob(m.layers[#m.layers].digest)
    assert.matches("usr/bin/vim%.basic\n", h.ok("tar -tf " .. q(layer)))

    local t0 = now()
    status, out, err = cb("build --progress=plain -t me/vim " .. q(ctx))
    local took = now() - t0
    assert.are.equal(0, status, out .. err)
    assert.matches("#2 CACHED", err, 1, true)
    assert.not_matches("#2 DONE", err, 1, true)
    assert.not_matches("#2 %d", err) -- nothing ran: no output lines
    print(string.format("\n  second vim build: %.3fs", took))
    assert.is_true(took < 3, "second build took " .. took .. "s")

    if not has "podman" then
      pending "podman is not installed"
      return
    end
    h.ok("podman rmi -f docker.io/me/vim >/dev/null 2>&1 || true")
    h.ok(string.format("env CBUILD_ROOT=%s %s save me/vim | podman load -q", q(root), q(h.bin)))
    local version = h.ok "podman run --rm --network=none docker.io/me/vim vim --version"
    assert.matches("VIM %- Vi IMproved", version)
    h.ok("podman rmi -f docker.io/me/vim >/dev/null 2>&1 || true")
  end)

  it("--no-cache runs the step again", function()
    local status, out, err = cb("build --progress=plain --no-cache -t me/vim2 " .. q(ctx))
    assert.are.equal(0, status, out .. err)
    assert.matches("#2 DONE", err, 1, true)
  end)
end)

describe("a COPY context of 2,000 files", function()
  it("reruns only the COPY and the steps after it when one file changes", function()
    local ctx = h.tmpdir "many"
    h.ok("mkdir -p " .. q(ctx .. "/src") .. " && cd " .. q(ctx .. "/src")
      .. " && for d in $(seq 1 20); do mkdir d$d; for f in $(seq 1 100); do echo $d-$f > d$d/f$f; done; done")
    h.write(ctx .. "/Dockerfile", "FROM debian:bookworm\nRUN echo before > /before\nCOPY src /src\n"
      .. "RUN ls -R /src | wc -l > /count\n")
    local status, out, err = cb("build --progress=plain -t many " .. q(ctx))
    assert.are.equal(0, status, out .. err)
    status, out, err = cb("build --progress=plain -t many " .. q(ctx))
    assert.are.equal(0, status, out .. err)
    for n = 2, 4 do
      assert.matches("#" .. n .. " CACHED", err, 1, true)
    end
    h.write(ctx .. "/src/d7/f42", "changed\n")
    status, out, err = cb("build --progress=plain -t many " .. q(ctx))
    assert.are.equal(0, status, out .. err)
    assert.matches("#2 CACHED", err, 1, true) -- the RUN before the COPY
    assert.matches("#3 DONE", err, 1, true) -- the COPY
    assert.matches("#4 DONE", err, 1, true) -- and what follows it
    local m = manifest_of "docker.io/library/many:latest"
    local copied = blob(m.layers[#m.layers - 1].digest)
    assert.are.equal("changed\n", h.ok("tar -xOf " .. q(copied) .. " src/d7/f42"))
    -- a fresh copy of the tree (new mtimes, new inodes) still hits the cache
    local ctx2 = h.tmpdir "many2"
    h.ok("cp -r " .. q(ctx) .. "/. " .. q(ctx2))
    status, out, err = cb("build --progress=plain -t many " .. q(ctx2))
    assert.are.equal(0, status, out .. err)
    assert.matches("#3 CACHED", err, 1, true)
    assert.matches("#4 CACHED", err, 1, true)
  end)
end)
