-- COPY/ADD on images with layers: destinations resolved in the image (existing dirs,
-- symlinked dirs, missing parents), --chown by name, --from a stage, heredoc files; WORKDIR
-- making its directory; steps that change nothing adding no layer.
local h = require "spec.helpers"
local q = h.quote

local root

local function cb(args, opts)
  return h.cbuild(root, args, opts)
end

local function build(dockerfile, files)
  local ctx = h.tmpdir "copyctx"
  h.write(ctx .. "/Dockerfile", dockerfile)
  for name, content in pairs(files or {}) do
    h.write(ctx .. "/" .. name, content)
  end
  local status, out, err = cb("build -q " .. q(ctx))
  assert.are.equal(0, status, out .. err)
  return out:match "sha256:%x+"
end

-- "type uid/gid name" lines of each layer of an image, bottom first
local function layers(id)
  local _, out = cb("inspect --format '{{json .RootFS.Layers}}' " .. id)
  local list = {}
  for hex in out:gmatch "sha256:(%x+)" do
    local lines = {}
    local listing = h.ok("tar -tvf " .. q(root .. "/blobs/sha256/" .. hex))
    for mode, owner, name in listing:gmatch "(%S+) (%d+/%d+)%s+%d+ %S+ %S+ ([^\n]+)" do
      lines[#lines + 1] = mode:sub(1, 1) .. " " .. owner .. " " .. name
    end
    list[#list + 1] = table.concat(lines, "\n")
  end
  return list
end

setup(function()
  root = h.tmpdir "copyroot"
  h.import_busybox(root)
end)
teardown(h.cleanup)

describe("COPY onto an image", function()
  it("copies into an existing directory, follows the image's symlinks, creates missing parents", function()
    local id = build("FROM busybox\nRUN ln -s /usr/share /shared\nCOPY a /bin\nCOPY a /shared/doc/\n", { a = "a" })
    local l = layers(id)
    assert.are.equal("- 0/0 bin/a", l[#l - 1]) -- /bin exists: into it, no entry for bin/ itself
    assert.are.equal("d 0/0 usr/share/\nd 0/0 usr/share/doc/\n- 0/0 usr/share/doc/a", l[#l])
  end)

  it("resolves --chown names in the image's passwd and group files", function()
    local id = build("FROM busybox\nCOPY --chown=nobody a /x/\nCOPY --chown=nobody:root a /y\n", { a = "a" })
    local l = layers(id)
    assert.are.equal("d 65534/65534 x/\n- 65534/65534 x/a", l[#l - 1])
    assert.are.equal("- 65534/0 y", l[#l])
    local ctx = h.tmpdir "ghost"
    h.write(ctx .. "/Dockerfile", "FROM busybox\nCOPY --chown=ghost a /z\n")
    h.write(ctx .. "/a", "a")
    local status, _, err = cb("build " .. q(ctx))
    assert.are.equal(1, status)
    assert.matches("Dockerfile:2: .*unable to find user ghost", err)
  end)

  it("copies from another stage and writes heredoc files", function()
    local id = build "FROM busybox AS build\nRUN mkdir /out && echo built > /out/artifact\nFROM scratch\n\z
      COPY --from=build /out/artifact /dist/\nCOPY <<EOF /etc/motd\nhello\nEOF\n"
    local l = layers(id)
    assert.are.equal("d 0/0 dist/\n- 0/0 dist/artifact", l[1])
    assert.are.equal("d 0/0 etc/\n- 0/0 etc/motd", l[2])
  end)

  it("keeps source parents with --parents and skips --exclude matches below each source", function()
    local id = build("FROM scratch\nCOPY --parents src/a/b/f.txt src/c/h.txt /out/\n"
      .. "COPY --exclude=**/*.log src/a /nolog/\nCOPY --exclude=*.txt src/c/h.txt src/a/b/g.log /top/\n",
      { ["src/a/b/f.txt"] = "1", ["src/a/b/g.log"] = "2", ["src/c/h.txt"] = "3" })
    local l = layers(id)
    assert.are.equal("d 0/0 out/\nd 0/0 out/src/\nd 0/0 out/src/a/\nd 0/0 out/src/a/b/\n- 0/0 out/src/a/b/f.txt\n"
      .. "d 0/0 out/src/c/\n- 0/0 out/src/c/h.txt", l[1])
    assert.are.equal("d 0/0 nolog/\nd 0/0 nolog/b/\n- 0/0 nolog/b/f.txt", l[2])
    assert.are.equal("d 0/0 top/\n- 0/0 top/g.log", l[3])
  end)

  it("ADDs a file from an http URL (mode 0600), checked against --checksum", function()
    local web = h.tmpdir "web"
    h.write(web .. "/file.txt", "remote content\n")
    local port = require("spec.fixtures.registry.registry").free_port()
    h.ok(string.format("cd %s && (python3 -m http.server %d --bind 127.0.0.1 >/dev/null 2>&1 & echo $! > pid)",
      q(web), port))
    finally(function()
      h.sh("kill $(cat " .. q(web .. "/pid") .. ")")
    end)
    h.ok(string.format("for i in $(seq 50); do curl -sf http://127.0.0.1:%d/file.txt >/dev/null && exit 0; "
      .. "sleep 0.1; done; exit 1", port))
    local url = string.format("http://127.0.0.1:%d/file.txt", port)
    local sum = h.ok("sha256sum < " .. q(web .. "/file.txt")):sub(1, 64)
    local id = build(string.format("FROM scratch\nADD %s /dl/\nADD --checksum=sha256:%s %s /exact\n", url, sum, url))
    local l = layers(id)
    assert.are.equal("d 0/0 dl/\n- 0/0 dl/file.txt", l[1])
    local _, out = cb("inspect --format '{{json .RootFS.Layers}}' " .. id)
    local first = h.ok("tar -tvf " .. q(root .. "/blobs/sha256/" .. out:match "sha256:(%x+)"))
    assert.matches("\n%-rw%-%-%-%-%-%-%- 0/0%s+15 [^\n]+ dl/file.txt", first)
    local ctx = h.tmpdir "badsum"
    h.write(ctx .. "/Dockerfile", string.format("FROM scratch\nADD --checksum=sha256:%s %s /x\n", ("0"):rep(64), url))
    local status, _, err = cb("build " .. q(ctx))
    assert.are.equal(1, status)
    assert.matches("Dockerfile:2: ADD .*digest mismatch", err)
  end)

  it("makes the WORKDIR directory as a layer, and adds no layer for a step that changes nothing", function()
    local id = build "FROM busybox\nUSER nobody\nWORKDIR /app/sub\nRUN true\n"
    local l = layers(id)
    assert.are.equal("d 65534/65534 app/\nd 65534/65534 app/sub/", l[#l])
    local _, hist = cb("history " .. id)
    assert.matches("RUN /bin/sh %-c true # buildkit%s+0B", hist)
    assert.matches("WORKDIR /app/sub%s+%d", hist)
  end)
end)

describe("FROM --platform", function()
  it("accepts the host's platform ($BUILDPLATFORM, $TARGETPLATFORM) and refuses others", function()
    build "FROM --platform=$BUILDPLATFORM busybox AS b\nRUN echo hi\nFROM --platform=$TARGETPLATFORM busybox\n"
    local ctx = h.tmpdir "plat"
    local other = require("cbuild.core.sys").uname().machine == "aarch64" and "linux/amd64" or "linux/arm64"
    h.write(ctx .. "/Dockerfile", "FROM --platform=" .. other .. " busybox\n")
    local status, _, err = cb("build " .. q(ctx))
    assert.are.equal(1, status)
    assert.matches("Dockerfile:1: FROM --platform=" .. other .. ": only the host platform", err, 1, true)
  end)
end)

describe("RUN --mount=type=bind,from=", function()
  it("mounts a stage's or an image's files read-only for the step", function()
    local id = build "FROM busybox AS tools\n\z
      RUN mkdir -p /opt/tools && echo 'echo tool ran > /ran' > /opt/tools/run.sh\n\z
      FROM busybox\nRUN --mount=type=bind,from=tools,source=/opt/tools,target=/t sh /t/run.sh\n\z
      RUN --mount=type=bind,from=busybox,source=/bin,target=/imgbin /imgbin/busybox cat /ran > /ran2\n"
    local l = layers(id)
    assert.are.equal("- 0/0 ran", l[#l - 1])
    assert.are.equal("- 0/0 ran2", l[#l])
    assert.are.equal("", h.ok("findmnt -rn -o TARGET | grep -F " .. q(root) .. " || true"))
  end)
end)
