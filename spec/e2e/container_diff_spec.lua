-- diff and rename: docker's A/C/D listing of a container's changes, and renames that refuse
-- what docker refuses.
local h = require "spec.helpers"

local root, ok


describe("diff and rename", function()
  setup(function()
    root = h.tmpdir "diffroot"
    ok = h.must(root)
    h.import_busybox(root)
  end)
  teardown(function()
    h.cbuild(root, "rm -f changed quiet renamed other")
    h.cleanup()
  end)

  it("lists added, changed and deleted paths in docker's form", function()
    ok "run --name changed busybox sh -c 'echo x > /new && rm /bin/vi && echo y >> /etc/passwd && mkdir -p /tmp/a/b'"
    assert.are.equal("C /bin\nD /bin/vi\nC /etc\nC /etc/passwd\nA /new\nC /tmp\nA /tmp/a\nA /tmp/a/b\n",
      ok "diff changed")
  end)

  it("leaves out the mount points the runtime made in a running container", function()
    ok "run -d --name quiet busybox sleep 30"
    assert.are.equal("", ok "diff quiet")
    ok "exec quiet touch /etc/extra"
    assert.are.equal("C /etc\nA /etc/extra\n", ok "diff quiet")
  end)

  it("renames a container; refuses a bad or taken name", function()
    ok "rename changed renamed"
    assert.matches("renamed", ok "ps -a --format '{{.Names}}'")
    local status, _, err = h.cbuild(root, "rename renamed quiet")
    assert.are.equal(1, status)
    assert.matches('Conflict. The container name "/quiet" is already in use', err, 1, true)
    status, _, err = h.cbuild(root, "rename renamed 'no spaces'")
    assert.are.equal(1, status)
    assert.matches("Invalid container name", err, 1, true)
    assert.matches("A /new", ok "diff renamed")
  end)
end)
