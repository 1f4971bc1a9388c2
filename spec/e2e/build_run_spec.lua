-- RUN end to end on a busybox image (examples/busybox/make-busybox.sh): layers of deletions as
-- whiteouts and opaque dirs (read back by podman), USER and WORKDIR, a failing step and Ctrl-C
-- that leave no mount, scratch dir, cgroup or process behind, nothing of the sandbox in a layer,
-- cgroup limits of `build --memory/--pids-limit`, and the live tty progress view.
local h = require "spec.helpers"
local json = require "cbuild.core.json"
local q = h.quote

local root

local function cb(args, opts)
  return h.cbuild(root, args, opts)
end

local function build(dockerfile, args, files)
  local ctx = h.tmpdir "ctx"
  h.write(ctx .. "/Dockerfile", dockerfile)
  for name, content in pairs(files or {}) do
    h.write(ctx .. "/" .. name, content)
  end
  local status, out, err = cb("build --progress=plain " .. (args or "") .. " " .. q(ctx))
  return status, out, err, ctx
end

local function must_build(dockerfile, args)
  local status, out, err = build(dockerfile, args)
  assert.are.equal(0, status, out .. err)
  return out, err
end

local function blob(digest)
  return root .. "/blobs/sha256/" .. digest:gsub("^sha256:", "")
end

-- The manifest and config of a named image, read from the store as any OCI tool would.
local function image(name)
  local idx = json.decode(h.read(root .. "/index.json"))
  local full = name:find "/" and name or ("docker.io/library/" .. name)
  full = full:find ":" and full or (full .. ":latest")
  for _, m in ipairs(idx.manifests) do
    if (m.annotations or {})["org.opencontainers.image.ref.name"] == full then
      local manifest = json.decode(h.read(blob(m.digest)))
      return manifest, json.decode(h.read(blob(manifest.config.digest)))
    end
  end
  error("no image " .. full)
end

-- `tar tv` of the image's last layer, one entry a line.
local function last_layer(name)
  local manifest = image(name)
  return h.ok("tar -tvf " .. q(blob(manifest.layers[#manifest.layers].digest)))
end

local function has(cmd)
  return h.sh("command -v " .. cmd .. " >/dev/null") == 0
end

-- The build cgroups that exist now (other cbuild processes on the machine may own some).
local function build_cgroups()
  local set = {}
  local found = h.ok("find /sys/fs/cgroup -maxdepth 3 -type d -name 'build-*' -path '*cbuild*' || true")
  for line in found:gmatch "[^\n]+" do
    set[line] = true
  end
  return set
end
local cgroups_before = build_cgroups()

-- What a build must not leave: mounts or scratch dirs of the store, cgroups, processes.
local function assert_clean()
  assert.are.equal("", h.ok("findmnt -rn -o TARGET | grep -F " .. q(root) .. " || true"))
  assert.are.same({}, h.listdir(root .. "/tmp"))
  local leaked = {}
  for path in pairs(build_cgroups()) do
    local pid = path:match "build%-(%d+)%-%d+$"
    local alive = pid and h.sh("test -d /proc/" .. pid) == 0 -- another build still running
    if not cgroups_before[path] and not alive then
      leaked[#leaked + 1] = path
    end
  end
  assert.are.same({}, leaked)
end

local function podman_run(name, cmd)
  h.ok("podman rmi -f " .. q(name) .. " >/dev/null 2>&1 || true")
  h.ok(string.format("env CBUILD_ROOT=%s %s save %s | podman load -q", q(root), q(h.bin), q(name)))
  local status, out, err = h.sh("podman run --rm --network=none " .. q(name) .. " " .. cmd)
  h.ok("podman rmi -f " .. q(name) .. " >/dev/null 2>&1 || true")
  return status, out, err
end

setup(function()
  root = h.tmpdir "brun"
  h.import_busybox(root)
end)

teardown(h.cleanup)

describe("RUN layers", function()
  it("turn a removed file into a whiteout and a removed dir into an opaque dir; podman sees them gone", function()
    must_build("FROM busybox\nRUN mkdir -p /usr/share/doc/a && echo x > /usr/share/doc/a/f"
      .. " && echo id > /etc/os-release\n", "-t base")
    must_build("FROM base\nRUN rm /etc/os-release\nRUN rm -rf /usr/share/doc && mkdir /usr/share/doc\n", "-t gone")
    local manifest = image "gone"
    local whiteout = h.ok("tar -tvf " .. q(blob(manifest.layers[#manifest.layers - 1].digest)))
    assert.matches("etc/%.wh%.os%-release\n", whiteout)
    local opaque = last_layer "gone"
    assert.matches("usr/share/doc/%.wh%.%.wh%.%.opq\n", opaque)
    assert.not_matches("usr/share/doc/a", opaque)
    if not has "podman" then
      pending "podman is not installed"
      return
    end
    local status, out = podman_run("gone", "sh -c 'ls /etc/os-release /usr/share/doc/a 2>&1; ls -A /usr/share/doc'")
    assert.are.equal(0, status)
    assert.matches("/etc/os%-release: No such file", out)
    assert.matches("/usr/share/doc/a: No such file", out)
  end)

  it("with USER nobody and WORKDIR /app run as uid 65534 in /app", function()
    local _, err = must_build("FROM busybox\nUSER nobody\nWORKDIR /app\nRUN id && pwd > /tmp/where\n", "-t who")
    assert.matches("uid=65534%(nobody%) gid=65534", err)
    local _, cfg = image "who"
    assert.are.equal("nobody", cfg.config.User)
    assert.are.equal("/app", cfg.config.WorkingDir)
    local layer = last_layer "who"
    assert.matches("65534/65534%s+5 [^\n]+ tmp/where\n", layer) -- written by nobody: "/app\n"
    local tar = blob(image("who").layers[#image("who").layers].digest)
    assert.are.equal("/app\n", h.ok("tar -xOf " .. q(tar) .. " tmp/where"))
  end)

  it("keep the sandbox out: no resolv.conf, hosts, hostname, proc, dev or sys contents, no unchanged etc/",
    function()
      must_build("FROM busybox\nRUN cat /etc/resolv.conf /etc/hosts /etc/hostname >/dev/null && ls /proc/1 /dev/null"
        .. " /sys/kernel >/dev/null && touch /made\n", "-t clean")
      local layer = last_layer "clean"
      local names = {}
      for name in layer:gmatch "%S+\n" do
        names[#names + 1] = name
      end
      assert.are.same({ "made\n" }, names)
      for _, bad in ipairs { "resolv.conf", "hosts", "hostname", "proc/", "dev/", "sys/", "etc/" } do
        assert.not_matches(bad, layer, 1, true)
      end
    end)
end)

describe("a failing RUN", function()
  it("prints the output and Dockerfile:N: RUN … exited with code 3, exits 1, and leaves nothing behind", function()
    local status, out, err = build("FROM busybox\n\nRUN echo about to fail && touch /x && exit 3\n")
    assert.are.equal(1, status, out .. err)
    assert.matches("about to fail", err)
    assert.matches("Dockerfile:3: RUN echo about to fail && touch /x && exit 3 exited with code 3", err, 1, true)
    assert.not_matches("traceback", err)
    assert_clean()
  end)

  it("names an exec failure", function()
    local status, _, err = build('FROM busybox\nRUN ["/nope"]\n')
    assert.are.equal(1, status)
    assert.matches("Dockerfile:2: RUN /nope", err, 1, true)
    assert_clean()
  end)
end)

describe("Ctrl-C during a long RUN", function()
  it("kills the step and leaves no mount, scratch dir or process behind", function()
    local ctx = h.tmpdir "ctx"
    h.write(ctx .. "/Dockerfile", "FROM busybox\nRUN echo started; sleep 1000; echo never\n")
    local log = ctx .. "/log"
    -- cbuild in the background; SIGINT once the step printed its first line
    local script = string.format([[
      env CBUILD_ROOT=%s %s build --progress=plain %s >%s 2>&1 &
      pid=$!
      for i in $(seq 1 100); do grep -q '^#2 [0-9.]* started' %s && break; sleep 0.1; done
      kill -INT $pid
      wait $pid; echo "status=$?"
    ]], q(root), q(h.bin), q(ctx), q(log), q(log))
    local t0 = os.time()
    local out = h.ok(script)
    assert.is_true(os.time() - t0 < 20)
    assert.matches("status=1", out)
    local text = h.read(log)
    assert.matches("interrupted", text)
    assert.not_matches("#2 [%d.]+ never", text)
    assert.are.equal("", h.ok("pgrep -f 'sleep 100[0]' || true"))
    assert_clean()
  end)
end)

describe("build limits", function()
  it("--memory: an OOM kill is reported as such, and the cgroup is gone", function()
    local status, _, err = build("FROM busybox\nRUN dd if=/dev/zero of=/dev/null bs=64M count=1\n",
      "--memory 16M --memory-swap 16M")
    assert.are.equal(1, status)
    assert.matches("exited with code 137 (killed by the kernel's OOM killer: out of memory under --memory=16MiB)",
      err, 1, true)
    assert_clean()
  end)

  it("--pids-limit and --cpus apply to the step (and succeed within them)", function()
    local status, _, err = build("FROM busybox\nRUN for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait\n",
      "--pids-limit 4")
    assert.are.equal(1, status)
    assert.matches("can't fork", err)
    must_build("FROM busybox\nRUN echo fine\n", "--cpus 0.5 --cpu-shares 512 --pids-limit 20 --memory 64M")
    assert_clean()
  end)

  it("rejects bad values with docker's words", function()
    local status, _, err = build("FROM busybox\nRUN true\n", "--memory 1k")
    assert.are.equal(1, status)
    assert.matches("Minimum memory limit allowed is 6MB", err, 1, true)
    status, _, err = build("FROM busybox\nRUN true\n", "--cpus x")
    assert.are.equal(1, status)
    assert.matches('invalid argument "x" for "--cpus" flag', err, 1, true)
  end)
end)

describe("progress", function()
  it("under a pty: running steps redrawn in place, finished ones collapsed to DONE/CACHED", function()
    local ctx = h.tmpdir "ctx"
    h.write(ctx .. "/Dockerfile", "FROM busybox\nRUN for i in 1 2 3 4 5 6 7 8 9 10; do echo tick$i; sleep 0.15; done\n")
    local ts = ctx .. "/typescript"
    local cmd = string.format("env CBUILD_ROOT=%s %s build %s", q(root), q(h.bin), q(ctx))
    h.ok(string.format("script -qfec %s %s >/dev/null", q(cmd), q(ts)))
    local text = h.read(ts)
    assert.matches("\27%[%d+A\r?\27%[J", text) -- cursor up and clear: a redraw
    assert.matches("=> > tick10", text) -- the step's last lines under it
    assert.matches("=> %[2/2%] RUN [^\n]- DONE %d+%.%ds", text)
    assert.not_matches("#2 0%.", text) -- not the plain style
    h.ok(string.format("script -qfec %s %s >/dev/null", q(cmd), q(ts)))
    assert.matches("=> %[2/2%] RUN [^\n]- CACHED", h.read(ts))
  end)

  it("auto is plain without a terminal; a failed step's output is printed whole in the tty view", function()
    local _, _, err = build("FROM busybox\nRUN echo plain\n", "--progress=auto")
    assert.matches("#2 %d+%.%d+ plain", err)
    local ctx = h.tmpdir "ctx"
    local lines = {}
    for i = 1, 30 do
      lines[#lines + 1] = "echo out" .. i
    end
    h.write(ctx .. "/Dockerfile", "FROM busybox\nRUN " .. table.concat(lines, "; ") .. "; exit 3\n")
    local status, _, err2 = cb("build --progress=tty " .. q(ctx))
    assert.are.equal(1, status)
    for i = 1, 30 do
      assert.matches("\nout" .. i .. "\n", err2, 1, true)
    end
  end)

  it("says where the full log is once the output passes the in-memory limit", function()
    local status, _, err = build("FROM busybox\nRUN yes 0123456789abcdef0123456789abcdef | head -c 5000000; exit 3\n",
      "--progress=plain")
    assert.are.equal(1, status)
    local path = err:match "the full log is in (%S+)"
    assert.is_truthy(path)
    local f = assert(io.open(path, "rb"))
    assert.are.equal(5000000, f:seek "end")
    f:close()
    assert.matches("(full output: " .. path .. ")", err, 1, true)
    h.ok("rm -rf " .. q(path:match "^(.*)/"))
  end)
end)
