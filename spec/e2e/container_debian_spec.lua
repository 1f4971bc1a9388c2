-- The issue's "done means" on debian:bookworm (examples/debian/make-debian.sh; apt reaches
-- Debian's mirror over --network host): the classic stress image under a memory limit, and an
-- interactive apt-get install committed into a new image.
local h = require "spec.helpers"
local q = h.quote
local sys = require "cbuild.core.sys"

local root, ok

local function cb(args, stdin)
  return h.cbuild(root, args, { stdin = stdin })
end

setup(function()
  root = h.tmpdir "cdeb"
  ok = h.must(root)
  h.ok(string.format("CBUILD_ROOT=%s %s/examples/debian/make-debian.sh %s debian:bookworm", q(root), q(h.src),
    q(h.bin)))
end)

teardown(function()
  cb "rm -f hog st oomer oomer2 vimmer"
  h.cleanup()
end)

describe("the stress image #debian", function()
  setup(function()
    ok "run --name st --network host debian:bookworm sh -c 'apt-get update -qq && apt-get install -y -qq stress'"
    ok [[commit -c 'ENTRYPOINT ["/usr/bin/stress"]' -c 'CMD []' st stress]]
    ok "rm st"
  end)

  it("runs the VM hog until it is stopped", function()
    ok "run -d --rm --name hog stress --vm 1 --vm-bytes 64M --verbose"
    sys.poll({}, 1500)
    local stats = ok "stats --no-stream hog"
    assert.matches("hog%s+%d+%.%d+%%", stats)
    assert.matches("stress", ok "top hog")
    ok "stop -t 1 hog"
    local status = cb "inspect hog"
    assert.are_not.equal(0, status) -- --rm removed it
  end)

  it("fails with 'got signal 9' and status 1 under --memory=200M, and cbuild lives on", function()
    local status, out, err = cb "run --name oomer --memory=200M stress --vm 1 --vm-bytes 500M --verbose"
    assert.are.equal(1, status)
    assert.matches("stress: FAIL: .-got signal 9", out .. err)
    -- a worker was OOM-killed, not the container's main process (stress itself): docker's
    -- OOMKilled is false, the cgroup's count is kept
    assert.are.equal("false\n", ok "inspect -f '{{.State.OOMKilled}}' oomer")
    assert.are.equal("1\n", ok "inspect -f '{{.State.ExitCode}}' oomer")
    local id = ok("inspect -f '{{.Id}}' oomer"):gsub("%s+$", "")
    assert.matches('"oom_kills": [1-9]', h.read(root .. "/containers/" .. id .. "/state.json"))
    ok "rm oomer"
    -- the container's init itself killed: exit 137 and OOMKilled
    status = cb "run --name oomer2 --memory=64M --memory-swap=64M --entrypoint tail stress /dev/zero"
    assert.are.equal(137, status)
    assert.are.equal("true\n", ok "inspect -f '{{.State.OOMKilled}}' oomer2")
    ok "rm oomer2"
  end)
end)

describe("an interactive session committed #debian", function()
  it("installs vim at a bash prompt, commits it, and runs the new image", function()
    local cmd = string.format("CBUILD_ROOT=%s %s run -it --name vimmer debian:bookworm bash", q(root), q(h.bin))
    -- "D""ONE" is only in the typescript once the shell ran the echo, not when it was typed
    local feed = [[sleep 1; printf 'apt-get update -qq && apt-get install -y -qq vim >/dev/null 2>&1; echo D""ONE=$?\n';
      for i in $(seq 1 240); do sleep 1; grep -q 'DONE=' ]] .. root .. [[/typescript 2>/dev/null && break; done;
      printf 'exit\n'; sleep 1]]
    local status, _, err = h.sh(string.format("(%s) | timeout 300 script -qfec %s %s", feed, q(cmd),
      q(root .. "/typescript")))
    assert.are.equal(0, status, err)
    local typed = h.read(root .. "/typescript")
    assert.matches("root@%x+:/#", typed) -- bash's prompt with the container's hostname
    assert.matches("DONE=0", typed)
    local id = ok("inspect -f '{{.Id}}' vimmer"):gsub("%s+$", "")
    assert.matches("^sha256:%x+\n$", ok("commit " .. id:sub(1, 12) .. " me/debian-vim"))
    assert.matches("VIM %- Vi IMproved", ok "run --rm me/debian-vim vim --version")
    local hist = ok "history me/debian-vim"
    assert.matches("^IMAGE.-\n%x+%s+.-%s+bash%s+%d", hist)
    ok "rm vimmer"
  end)
end)
