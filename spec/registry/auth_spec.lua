-- Pure parts of the registry client: challenges, base64, the credentials file.
local h = require "spec.helpers"
local auth = require "cbuild.registry.auth"
local config = require "cbuild.registry.config"

describe("cbuild.registry.auth", function()
  it("parses bearer and basic challenges", function()
    local c = auth.parse_challenges('Bearer realm="https://auth.docker.io/token",'
      .. 'service="registry.docker.io",scope="repository:library/busybox:pull"')
    assert.are.same({ { scheme = "bearer", params = { realm = "https://auth.docker.io/token",
      service = "registry.docker.io", scope = "repository:library/busybox:pull" } } }, c)
    c = auth.parse_challenges('Basic realm="basic-realm", Bearer realm="x\\"y", error=invalid_token')
    assert.are.equal("basic", c[1].scheme)
    assert.are.equal("basic-realm", c[1].params.realm)
    assert.are.same({ realm = 'x"y', error = "invalid_token" }, c[2].params)
  end)

  it("turns distribution error bodies into docker's text", function()
    assert.are.equal("unauthorized: authentication required", auth.error_text {
      body = '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}' })
    assert.is_nil(auth.error_text { body = "<html>" })
  end)
end)

describe("cbuild.registry.config", function()
  it("round-trips base64", function()
    for _, s in ipairs { "", "a", "ab", "abc", "user:p@ss:word", string.rep("\0\255", 7) } do
      assert.are.equal(s, config.b64decode(config.b64encode(s)))
    end
    assert.are.equal("dXNlcjpwdw==", config.b64encode "user:pw")
  end)

  it("saves credentials with mode 0600, keeps other keys, reads docker's format back", function()
    local dir = h.tmpdir "cfg"
    local path = dir .. "/sub/config.json"
    h.write(path, '{"credsStore":"none","auths":{"other:1":{"auth":"' .. config.b64encode "o:p" .. '"}}}')
    assert.are.equal(path, config.store_credentials("h:5000", "u", "p:w", path))
    assert.are.equal("600", (h.ok("stat -c %a " .. path):gsub("%s+$", "")))
    assert.are.same({ username = "u", password = "p:w" }, config.credentials("h:5000", path))
    assert.are.same({ username = "o", password = "p" }, config.credentials("other:1", path))
    assert.matches('"credsStore"', h.read(path))
    assert.is_true(config.remove_credentials("h:5000", path))
    assert.is_false(config.remove_credentials("h:5000", path))
    assert.is_nil(config.credentials("h:5000", path))
  end)

  it("knows which hosts speak plain http", function()
    assert.is_true(config.is_loopback "127.0.0.1:5000")
    assert.is_true(config.is_loopback "127.3.4.5")
    assert.is_true(config.is_loopback "localhost:5000")
    assert.is_false(config.is_loopback "128.0.0.1:5000")
    assert.is_false(config.is_loopback "docker.io")
  end)
end)
