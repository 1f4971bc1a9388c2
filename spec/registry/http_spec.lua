-- cbuild.core.http against a real docker-registry and a misbehaving server in front of it.
local h = require "spec.helpers"
local reg = require "spec.fixtures.registry.registry"
local rh = require "spec.registry.helpers"
local http = require "cbuild.core.http"
local store = require "cbuild.core.store"
local digest = require "cbuild.core.digest"

describe("cbuild.core.http", function()
  local r, data, d
  setup(function()
    r = reg.start()
    data = string.rep("0123456789abcdef", 64 * 1024) -- 1 MiB
    d = digest.sha256(data)
    local p = assert(http.request { method = "POST", url = r.url .. "/v2/t/blobs/uploads/" })
    assert.are.equal(202, p.status)
    local put = assert(http.request { method = "PUT", url = p.headers.location .. "&digest=" .. d, body = data })
    assert.are.equal(201, put.status)
  end)
  teardown(function()
    rh.stop(r)
  end)

  it("raises on misuse", function()
    assert.error_matches(function() http.request "x" end, "table expected")
    assert.error_matches(function() http.request {} end, "'url' is required")
    assert.error_matches(function() http.request { url = "http://x/", body = 3 } end, "'body' must be")
    assert.error_matches(function() http.request { url = "http://x/", sink = {} } end, "cbuild.core.store expected")
  end)

  it("returns nil, msg, code when nothing answers", function()
    local resp, msg, code = http.request { url = "http://127.0.0.1:" .. reg.free_port() .. "/v2/?secret=s3cr3t" }
    assert.is_nil(resp)
    assert.matches("^GET http://127.0.0.1:%d+/v2/: ", msg)
    assert.is_nil(msg:find("s3cr3t", 1, true))
    assert.are.equal("EHTTP", code)
  end)

  it("answers any status with headers and body", function()
    local resp = assert(http.request {
      url = r.url .. "/v2/t/manifests/nope", headers = { Accept = "application/json" } })
    assert.are.equal(404, resp.status)
    assert.matches("MANIFEST_UNKNOWN", resp.body)
    assert.are.equal("registry/2.0", resp.headers["docker-distribution-api-version"])
    local head = assert(http.request { method = "HEAD", url = r.url .. "/v2/t/blobs/" .. d })
    assert.are.equal(200, head.status)
    assert.are.equal(tostring(#data), head.headers["content-length"])
    assert.are.equal("", head.body)
  end)

  it("reports progress to a Lua function, and re-raises its error after the transfer", function()
    local s = assert(store.open(h.tmpdir(), { create = true }))
    local calls, last = 0, nil
    local resp = assert(http.request { url = r.url .. "/v2/t/blobs/" .. d, sink = s, expect = d,
      progress = function(done, total)
        calls = calls + 1
        last = { done, total }
      end })
    assert.are.equal(d, resp.digest)
    assert.is_true(calls >= 1)
    assert.are.same({ #data, #data }, last)
    local s2 = assert(store.open(h.tmpdir(), { create = true }))
    assert.error_matches(function()
      http.perform_all { { url = r.url .. "/v2/t/blobs/" .. d, sink = s2, expect = d,
        progress = function() error "stop here" end } }
    end, "stop here")
    assert.is_false(s2:has(d))
    assert.error_matches(function() http.request { url = "http://x/", progress = 1 } end, "'progress' must be")
  end)

  it("streams a body into the store and names it by its verified digest", function()
    local s = assert(store.open(h.tmpdir(), { create = true }))
    local resp = assert(http.request { url = r.url .. "/v2/t/blobs/" .. d, sink = s, expect = d })
    assert.are.equal(200, resp.status)
    assert.are.equal(d, resp.digest)
    assert.are.equal(#data, resp.size)
    assert.are.equal(data, s:get(d))
    -- an error answer is not stored, its body is kept
    resp = assert(http.request { url = r.url .. "/v2/t/blobs/sha256:" .. string.rep("0", 64), sink = s })
    assert.are.equal(404, resp.status)
    assert.is_nil(resp.digest)
    assert.matches("BLOB_UNKNOWN", resp.body)
  end)

  it("uploads a body from a blob range", function()
    local s = assert(store.open(h.tmpdir(), { create = true }))
    local bd = assert(s:put(data))
    local part = data:sub(101, 300)
    local p = assert(http.request { method = "POST", url = r.url .. "/v2/u/blobs/uploads/" })
    local put = assert(http.request { method = "PUT", url = p.headers.location .. "&digest=" .. digest.sha256(part),
      body = { store = s, digest = bd, offset = 100, length = 200 } })
    assert.are.equal(201, put.status)
  end)

  it("refuses a blob whose bytes do not match and names nothing", function()
    local f = reg.start_faulty(r.url, "corrupt")
    local root = h.tmpdir()
    local s = assert(store.open(root, { create = true }))
    local resp, msg, code = http.request { url = f.url .. "/v2/t/blobs/" .. d, sink = s, expect = d }
    f:stop()
    assert.is_nil(resp)
    assert.are.equal("EDIGEST", code)
    assert.matches("digest mismatch", msg)
    assert.is_false(s:has(d))
    assert.are.same({}, h.listdir(root .. "/blobs/sha256"))
    assert.are.same({}, h.bad_blobs(root))
  end)

  it("retries 5xx with backoff, and resumes a cut download with a Range request", function()
    local s = assert(store.open(h.tmpdir(), { create = true }))
    local f = reg.start_faulty(r.url, "flaky")
    local resp = assert(http.request { url = f.url .. "/v2/t/blobs/" .. d, sink = s, expect = d, retries = 3 })
    f:stop()
    assert.are.equal(3, resp.attempts)
    assert.are.equal(d, resp.digest)
    s:remove(d)
    f = reg.start_faulty(r.url, "cut")
    resp = assert(http.request { url = f.url .. "/v2/t/blobs/" .. d, sink = s, expect = d, retries = 2 })
    f:stop()
    assert.are.equal(206, resp.status)
    assert.are.equal(#data // 2, resp.resumed)
    assert.are.equal(d, resp.digest)
  end)

  it("runs transfers in parallel, each with its own outcome", function()
    local s = assert(store.open(h.tmpdir(), { create = true }))
    local answers = assert(http.perform_all({
      { url = r.url .. "/v2/t/blobs/" .. d, sink = s, expect = d },
      { url = r.url .. "/v2/t/blobs/" .. d, sink = s, expect = "sha256:" .. string.rep("1", 64) },
      { url = r.url .. "/v2/" },
    }, { parallel = 2 }))
    assert.are.equal(d, answers[1].digest)
    assert.are.equal("EDIGEST", answers[2].code)
    assert.are.equal(200, answers[3].status)
  end)
end)
