-- push, pull, login and logout against Debian's docker-registry, with skopeo reading and
-- writing the other side.
local h = require "spec.helpers"
local reg = require "spec.fixtures.registry.registry"
local rh = require "spec.registry.helpers"

local function image_id(root, name)
  local status, out, err = h.cbuild(root, "images --no-trunc")
  assert(status == 0, err)
  for line in out:gmatch "[^\n]+" do
    local repo, tag, id = line:match "^(%S+)%s+(%S+)%s+(sha256:%x+)"
    if repo and repo .. ":" .. tag == name then
      return id
    end
  end
  return nil
end

describe("registry", function()
  local r, tar
  setup(function()
    r, tar = rh.start()
  end)
  teardown(function()
    rh.stop(r)
  end)

  it("pushes an imported image, skips every blob the second time, pulls it back", function()
    local root = h.tmpdir "root"
    local name = r.host .. "/busybox"
    rh.import(root, tar, name)
    local id = image_id(root, name .. ":latest")
    assert.matches("^sha256:%x+$", id)
    local out = rh.push(root, name)
    assert.matches("The push refers to repository %[" .. name:gsub("%p", "%%%0") .. "%]", out)
    assert.matches("%x+: Pushed", out)
    local digest, size = out:match "latest: digest: (sha256:%x+) size: (%d+)\n$"
    assert.is_truthy(digest)
    assert.matches('"busybox"', h.ok("curl -sf " .. r.url .. "/v2/_catalog"))

    out = rh.push(root, name)
    assert.matches("Layer already exists", out)
    assert.is_nil(out:find(": Pushed", 1, true))
    assert.matches("no layer bytes sent", out)
    assert.matches("latest: digest: " .. digest .. " size: " .. size, out, 1, true)

    assert.are.equal(0, (h.cbuild(root, "rmi " .. name)))
    out = rh.pull(root, name)
    assert.matches("Digest: " .. digest, out, 1, true)
    assert.are.equal(id, image_id(root, name .. ":latest"))

    local fresh
    fresh, out = rh.pull_fresh(name)
    assert.matches("Pull complete", out)
    assert.are.equal(id, image_id(fresh, name .. ":latest"))
  end)

  it("is read by skopeo, and reads what skopeo copies in (schema2 and OCI)", function()
    local root = h.tmpdir "root"
    local name = r.host .. "/sk"
    rh.import_push(root, tar, name)
    local id = image_id(root, name .. ":latest")
    local inspect = h.ok("skopeo inspect --tls-verify=false docker://" .. name)
    assert.matches('"Architecture": "amd64"', inspect, 1, true)

    for _, format in ipairs { "v2s2", "oci" } do
      local target = r.host .. "/copied-" .. format
      h.ok(string.format("skopeo copy --quiet --dest-tls-verify=false --format %s oci:%s:%s docker://%s",
        format, h.quote(root), h.quote(name .. ":latest"), target))
      local fresh = rh.pull_fresh(target)
      assert.are.equal(id, image_id(fresh, target .. ":latest"))
    end
  end)

  it("selects a platform from an index", function()
    local root = h.tmpdir "root"
    local name = r.host .. "/multi"
    local out = rh.import_push(root, tar, name .. ":amd64")
    local id = image_id(root, name .. ":amd64")
    local digest, size = out:match "digest: (sha256:%x+) size: (%d+)"
    local index = string.format('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",'
      .. '"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,'
      .. '"platform":{"os":"linux","architecture":"arm64"}},'
      .. '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,'
      .. '"platform":{"os":"linux","architecture":"amd64"}}]}', digest, size, digest, size)
    h.ok(string.format("curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' "
      .. "--data-binary %s %s/v2/multi/manifests/latest", h.quote(index), r.url))
    local fresh = rh.pull_fresh(name, "--platform linux/amd64")
    assert.are.equal(id, image_id(fresh, name .. ":latest"))
    local status, _, err = h.cbuild(fresh, "pull --platform linux/s390x " .. name)
    assert.are_not.equal(0, status)
    assert.matches("no matching manifest for linux/s390x", err, 1, true)
  end)

  it("refuses a registry that serves corrupted blobs, naming nothing", function()
    local root = h.tmpdir "root"
    rh.import_push(root, tar, r.host .. "/corrupt")
    local f = reg.start_faulty(r.url, "corrupt")
    local fresh = h.tmpdir "fresh"
    local status, _, err = h.cbuild(fresh, "pull " .. f.host .. "/corrupt")
    f:stop()
    assert.are.equal(1, status)
    assert.matches("digest mismatch", err)
    assert.are.same({}, h.bad_blobs(fresh))
    assert.is_nil(image_id(fresh, f.host .. "/corrupt:latest"))
  end)

  it("pulls through 5xx answers and a connection cut mid-blob", function()
    local root = h.tmpdir "root"
    rh.import_push(root, tar, r.host .. "/flaky")
    local id = image_id(root, r.host .. "/flaky:latest")
    for _, mode in ipairs { "flaky", "cut" } do
      local f = reg.start_faulty(r.url, mode)
      local fresh = h.tmpdir "fresh"
      local status, _, err = h.cbuild(fresh, "pull " .. f.host .. "/flaky")
      f:stop()
      assert.are.equal(0, status, err)
      assert.are.equal(id, image_id(fresh, f.host .. "/flaky:latest"))
    end
  end)
end)

describe("registry with basic auth", function()
  local r, tar
  setup(function()
    r, tar = rh.start { users = { alice = "s3cret-pw" } }
  end)
  teardown(function()
    rh.stop(r)
  end)

  it("login checks the password before saving; push needs it; logout forgets it", function()
    local root = h.tmpdir "root"
    local cfgdir = h.tmpdir "dockercfg"
    local env = { env = { DOCKER_CONFIG = cfgdir }, stdin = "wrong\n" }
    local status, _, err = h.cbuild(root, "login -u alice --password-stdin " .. r.host, env)
    assert.are.equal(1, status)
    assert.matches("unauthorized: ", err, 1, true)
    assert.is_nil(err:find("wrong", 1, true))
    assert.are.same({}, h.listdir(cfgdir))

    local name = r.host .. "/private"
    rh.import(root, tar, name)
    local perr
    status, perr, err = h.cbuild(root, "push " .. name, { env = { DOCKER_CONFIG = cfgdir } })
    assert.are.equal(1, status, perr)
    assert.matches("unauthorized: authentication required (run 'cbuild login " .. r.host .. "' first)", err, 1, true)

    env.stdin = "s3cret-pw\n"
    local out
    status, out, err = h.cbuild(root, "login -u alice --password-stdin " .. r.host, env)
    assert.are.equal(0, status, err)
    assert.matches("Login Succeeded", out)
    assert.are.equal("600", (h.ok("stat -c %a " .. cfgdir .. "/config.json"):gsub("%s+$", "")))
    local saved = h.read(cfgdir .. "/config.json")
    assert.matches('"' .. r.host .. '"', saved, 1, true)
    assert.is_nil(saved:find("s3cret-pw", 1, true)) -- base64, as docker writes it

    status, out, err = h.cbuild(root, "push " .. name, { env = { DOCKER_CONFIG = cfgdir } })
    assert.are.equal(0, status, err)
    assert.matches("latest: digest: sha256:", out)
    assert.is_nil((out .. err):find("s3cret", 1, true))
    rh.pull_fresh(name, nil, { env = { DOCKER_CONFIG = cfgdir } })

    status, out = h.cbuild(root, "logout " .. r.host, { env = { DOCKER_CONFIG = cfgdir } })
    assert.are.equal(0, status)
    assert.matches("Removing login credentials for " .. r.host, out, 1, true)
    assert.is_nil(h.read(cfgdir .. "/config.json"):find(r.host, 1, true))
  end)
end)
