-- The bearer token flow against distribution's `auth: token` mode: docker-registry trusts a
-- self-signed certificate made by openssl, token_server.py signs RS256 JWTs with it.
local h = require "spec.helpers"
local rh = require "spec.registry.helpers"

describe("registry with token auth", function()
  local r, tar
  setup(function()
    r, tar = rh.start { token = { users = { bob = "tok-s3cret" } } }
  end)
  teardown(function()
    rh.stop(r)
  end)

  it("login asks the issuer, push and pull carry one token per scope, logout forgets", function()
    local root = h.tmpdir "root"
    local cfgdir = h.tmpdir "dockercfg"
    local env = { env = { DOCKER_CONFIG = cfgdir }, stdin = "nope\n" }
    local status, out, err = h.cbuild(root, "login -u bob --password-stdin " .. r.host, env)
    assert.are.equal(1, status, out)
    assert.matches("unauthorized: incorrect username or password", err, 1, true)
    assert.is_nil(err:find("nope", 1, true))
    assert.are.same({}, h.listdir(cfgdir))
    assert.are.equal(1, r:token_stats().denied)

    local name = r.host .. "/tok/bb"
    rh.import(root, tar, name)
    status, out, err = h.cbuild(root, "push " .. name, { env = { DOCKER_CONFIG = cfgdir } })
    assert.are.equal(1, status, out)
    assert.matches("(run 'cbuild login " .. r.host .. "' first)", err, 1, true)

    env.stdin = "tok-s3cret\n"
    status, out, err = h.cbuild(root, "login -u bob --password-stdin " .. r.host, env)
    assert.are.equal(0, status, err)
    assert.matches("Login Succeeded", out)
    assert.are.equal("600", (h.ok("stat -c %a " .. cfgdir .. "/config.json"):gsub("%s+$", "")))

    local before = r:token_stats()
    status, out, err = h.cbuild(root, "push " .. name, { env = { DOCKER_CONFIG = cfgdir } })
    assert.are.equal(0, status, err)
    assert.matches("latest: digest: sha256:%x+ size: %d+", out)
    assert.is_nil((out .. err):find("tok-s3cret", 1, true))
    local after = r:token_stats()
    -- every request of the push (HEADs, uploads, manifest) used one cached token
    assert.are.equal(before.tokens + 1, after.tokens)
    local key = "repository:tok/bb:pull,push"
    assert.are.equal((before.scopes[key] or 0) + 1, after.scopes[key])

    local _
    _, out = rh.pull_fresh(name, nil, { env = { DOCKER_CONFIG = cfgdir } })
    assert.matches("Pull complete", out)
    assert.are.equal(after.tokens + 1, r:token_stats().tokens)
    assert.are.equal(1, r:token_stats().scopes["repository:tok/bb:pull"])

    -- anonymous pull: the issuer grants pull to anyone
    status, out, err = h.cbuild(h.tmpdir "anon", "pull " .. name, { env = { DOCKER_CONFIG = h.tmpdir "none" } })
    assert.are.equal(0, status, out .. err)

    status, out = h.cbuild(root, "logout " .. r.host, { env = { DOCKER_CONFIG = cfgdir } })
    assert.are.equal(0, status)
    assert.matches("Removing login credentials for " .. r.host, out, 1, true)
  end)
end)

describe("registry with short-lived tokens", function()
  local r, tar
  setup(function()
    r, tar = rh.start { token = { users = { bob = "pw" }, ttl = 2 } }
  end)
  teardown(function()
    rh.stop(r)
  end)

  it("renews a cached token when the registry answers 401", function()
    local root = h.tmpdir "root"
    local cfgdir = h.tmpdir "dockercfg"
    local name = r.host .. "/short/bb"
    rh.import(root, tar, name)
    h.cbuild(root, "login -u bob --password-stdin " .. r.host, { env = { DOCKER_CONFIG = cfgdir }, stdin = "pw\n" })
    rh.push(root, name, nil, { env = { DOCKER_CONFIG = cfgdir } })

    local client = require("cbuild.registry.client").new(r.host, { creds = { username = "bob", password = "pw" } })
    assert(client:ping())
    local scopes = { "repository:short/bb:pull" }
    local get = { path = "/v2/short/bb/tags/list" }
    local base = r:token_stats().tokens
    assert.are.equal(200, client:request(get, scopes).status)
    assert.are.equal(200, client:request(get, scopes).status)
    assert.are.equal(base + 1, r:token_stats().tokens) -- the second request reused the token
    -- another scope is another token
    local accept = { Accept = require("cbuild.registry.client").ACCEPT_MANIFESTS }
    assert.are.equal(200, client:request({ path = "/v2/short/bb/manifests/latest", headers = accept },
      { "repository:short/bb:pull,push" }).status)
    assert.are.equal(base + 2, r:token_stats().tokens)
    h.sh "sleep 3" -- the token still looks fresh to the client (expires_in 300), the registry says no
    assert.are.equal(200, client:request(get, scopes).status)
    assert.are.equal(base + 3, r:token_stats().tokens)
  end)
end)
