-- docker build's flags for the result: --label, --add-host, -o/--output, --metadata-file.
local h = require "spec.helpers"
local json = require "cbuild.core.json"
local q = h.quote

describe("build flags", function()
  teardown(h.cleanup)

  local root, ctx
  setup(function()
    root = h.tmpdir "flagsroot"
    h.import_busybox(root)
    ctx = h.tmpdir "flagsctx"
    h.write(ctx .. "/Dockerfile", "FROM busybox\nLABEL a=1 keep=yes\nRUN cat /etc/hosts > /hosts && rm /bin/vi\n")
  end)

  it("--label sets labels on the image, over the Dockerfile's", function()
    local status, out, err = h.cbuild(root, "build -q -t labels --label a=3 --label b=2 --label empty " .. q(ctx))
    assert.are.equal(0, status, out .. err)
    local _, labels = h.cbuild(root, "inspect -f '{{json .Config.Labels}}' labels")
    assert.are.same({ a = "3", b = "2", keep = "yes", empty = "" }, json.decode(labels))
  end)

  it("--add-host adds lines to RUN steps' /etc/hosts", function()
    local out = h.tmpdir "hostsout"
    local status, o, err = h.cbuild(root, "build -q --add-host db:10.0.0.5 --add-host gw=host-gateway "
      .. "--add-host v6:[::1] -o " .. q(out) .. " " .. q(ctx))
    assert.are.equal(0, status, o .. err)
    local hosts = h.read(out .. "/hosts")
    assert.matches("\n10.0.0.5\tdb\n127.0.0.1\tgw\n::1\tv6\n$", hosts)
  end)

  it("--add-host refuses a value that is no address", function()
    local status, _, err = h.cbuild(root, "build --add-host db:nowhere " .. q(ctx))
    assert.are.equal(1, status)
    assert.matches('invalid IP address in add-host: "nowhere"', err, 1, true)
  end)

  it("-o DIR and -o type=tar,dest=FILE export the image's files, deletions applied", function()
    local dir = h.tmpdir "outdir"
    local tar = h.tmpdir "outtar" .. "/rootfs.tar"
    local status, out, err = h.cbuild(root, "build -q -o " .. q(dir .. "/x") .. " -o type=tar,dest=" .. q(tar)
      .. " " .. q(ctx))
    assert.are.equal(0, status, out .. err)
    assert.truthy(h.read(dir .. "/x/bin/busybox"))
    assert.is_nil(io.open(dir .. "/x/bin/vi"))
    local list = h.ok("tar tf " .. q(tar))
    assert.matches("\nbin/busybox\n", "\n" .. list)
    assert.not_matches("\nbin/vi\n", "\n" .. list)
    assert.matches("\nhosts\n", "\n" .. list)
  end)

  it("-o type=docker and type=oci write the image as save does", function()
    local dir = h.tmpdir "imgout"
    local status, out, err = h.cbuild(root, "build -q -t outimg:1 -o type=docker,dest=" .. q(dir .. "/d.tar")
      .. " -o type=oci,dest=" .. q(dir .. "/o.tar") .. ",name=outimg:oci " .. q(ctx))
    assert.are.equal(0, status, out .. err)
    local manifest = json.decode(h.ok("tar xOf " .. q(dir .. "/d.tar") .. " manifest.json"))
    assert.are.same({ "docker.io/library/outimg:1" }, manifest[1].RepoTags)
    local index = json.decode(h.ok("tar xOf " .. q(dir .. "/o.tar") .. " index.json"))
    assert.matches("outimg:oci", json.encode(index))
    h.ok("skopeo inspect oci-archive:" .. q(dir .. "/o.tar"))
  end)

  it("-o - writes the tarball to standard output", function()
    local status, out = h.cbuild(root, "build -q -o - " .. q(ctx) .. " | tar t | grep -c '^bin/busybox$'")
    assert.are.equal(0, status)
    assert.are.equal("1\n", out)
  end)

  it("--metadata-file writes the digests and names as JSON", function()
    local meta = h.tmpdir "meta" .. "/m.json"
    local status, out, err = h.cbuild(root, "build -q -t meta:1 --iidfile " .. q(meta .. ".iid")
      .. " --metadata-file " .. q(meta) .. " " .. q(ctx))
    assert.are.equal(0, status, out .. err)
    local m = json.decode(h.read(meta))
    assert.are.equal(h.read(meta .. ".iid"), m["containerimage.config.digest"])
    assert.matches("^sha256:%x+$", m["containerimage.digest"])
    assert.are.equal(m["containerimage.digest"], m["containerimage.descriptor"].digest)
    assert.are.equal("docker.io/library/meta:1", m["image.name"])
  end)

  it("--no-cache-filter rebuilds the stages it names, the others come from the cache", function()
    local nctx = h.tmpdir "nocachectx"
    h.write(nctx .. "/Dockerfile", "FROM busybox AS a\nRUN cat /proc/sys/kernel/random/uuid > /a\nFROM busybox AS b\n"
      .. "RUN cat /proc/sys/kernel/random/uuid > /b\nFROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n")
    local function files()
      local status, out, err = h.cbuild(root, "build -q -t nocache " .. q(nctx))
      assert.are.equal(0, status, out .. err)
      return h.ok(string.format("CBUILD_ROOT=%s %s run --rm nocache cat /a /b", q(root), q(h.bin)))
    end
    local first = files()
    assert.are.equal(first, files()) -- all cached
    local status, out, err = h.cbuild(root, "build -q -t nocache --no-cache-filter b " .. q(nctx))
    assert.are.equal(0, status, out .. err)
    local again = h.ok(string.format("CBUILD_ROOT=%s %s run --rm nocache cat /a /b", q(root), q(h.bin)))
    assert.are.equal(first:match "^[^\n]+", again:match "^[^\n]+") -- a: from the cache
    assert.are_not.equal(first:match "\n([^\n]+)", again:match "\n([^\n]+)") -- b: run again
  end)

  it("--ssh binds an agent's socket for RUN --mount=type=ssh, SSH_AUTH_SOCK pointing at it", function()
    local dir = h.tmpdir "sshagent"
    local agent = h.ok("ssh-agent -a " .. q(dir .. "/agent.sock") .. " -s")
    local pid = agent:match "SSH_AGENT_PID=(%d+)"
    finally(function()
      h.sh("kill " .. pid)
    end)
    local sctx = h.tmpdir "sshctx"
    h.write(sctx .. "/Dockerfile", "FROM busybox\nRUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" "
      .. "&& echo \"$SSH_AUTH_SOCK\" > /sock\nRUN --mount=type=ssh,id=deploy,target=/deploy.sock,required "
      .. "test -S /deploy.sock\n")
    local status, out, err = h.cbuild(root, "build -q -t ssh --ssh default=" .. q(dir .. "/agent.sock")
      .. " --ssh deploy=" .. q(dir .. "/agent.sock") .. " " .. q(sctx))
    assert.are.equal(0, status, out .. err)
    assert.are.equal("/run/buildkit/ssh_agent.0\n",
      h.ok(string.format("CBUILD_ROOT=%s %s run --rm ssh cat /sock", q(root), q(h.bin))))
    local _
    status, _, err = h.cbuild(root, "build -q --no-cache --ssh default=" .. q(dir .. "/agent.sock") .. " " .. q(sctx))
    assert.are.equal(1, status)
    assert.matches('no SSH agent "deploy" was given', err, 1, true)
    h.write(dir .. "/key", "not a socket")
    status, _, err = h.cbuild(root, "build -q --ssh default=" .. q(dir .. "/key") .. " " .. q(sctx))
    assert.are.equal(1, status)
    assert.matches("is not an agent socket", err, 1, true)
  end)

  it("--shm-size sizes RUN steps' /dev/shm", function()
    local sctx = h.tmpdir "shmctx"
    h.write(sctx .. "/Dockerfile", "FROM busybox\nRUN df -k /dev/shm | tail -1 > /shm\n")
    local status, out, err = h.cbuild(root, "build -q -t shm --shm-size 3m " .. q(sctx))
    assert.are.equal(0, status, out .. err)
    assert.matches("%s3072%s", h.ok(string.format("CBUILD_ROOT=%s %s run --rm shm cat /shm", q(root), q(h.bin))))
  end)

  it("--push without -t says what is missing", function()
    local status, _, err = h.cbuild(root, "build -q --push " .. q(ctx))
    assert.are.equal(1, status)
    assert.matches("--push needs a name", err, 1, true)
  end)
end)
