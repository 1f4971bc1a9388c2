-- spec/core/json_spec.lua: the C binding of core/src/json.c
local json = require "cbuild.core.json"

describe("cbuild.core.json", function()
  describe("decode", function()
    it("maps JSON types to Lua", function()
      local v = json.decode '{"s":"x","i":42,"f":2.5,"t":true,"n":null,"a":[1,"2"],"o":{}}'
      assert.are.equal("x", v.s)
      assert.are.equal(math.type(v.i), "integer")
      assert.are.equal(42, v.i)
      assert.are.equal(math.type(v.f), "float")
      assert.are.equal(2.5, v.f)
      assert.is_true(v.t)
      assert.are.equal(json.null, v.n)
      assert.are.equal("userdata", type(json.null))
      assert.are.same({ 1, "2" }, v.a)
      assert.are.equal(json.array_mt, getmetatable(v.a))
      assert.is_nil(getmetatable(v.o))
      assert.are.same({}, v.o)
    end)

    it("decodes scalars at the top level and keeps NUL bytes", function()
      assert.are.equal(1, json.decode "1")
      assert.are.equal("a\0b", json.decode '"a\\u0000b"')
      assert.are.equal(json.null, json.decode "null")
      assert.are.equal("\u{e9}\u{1F600}", json.decode '"\\u00e9\\ud83d\\ude00"')
    end)

    it("returns nil, msg, code for malformed text", function()
      for _, text in ipairs { "", "{", "[1,]", "{'a':1}", "[1] 2", '"\xff"' } do
        local v, msg, code = json.decode(text)
        assert.is_nil(v)
        assert.matches("invalid JSON at line", msg, 1, true)
        assert.are.equal("EINVAL", code)
      end
    end)

    it("raises on misuse", function()
      assert.error_matches(function()
        json.decode {}
      end, "string expected")
    end)
  end)

  describe("encode", function()
    it("is canonical: compact with sorted keys", function()
      local a = json.encode { b = 1, a = { z = true, y = json.null }, c = { 1, 2 } }
      assert.are.equal('{"a":{"y":null,"z":true},"b":1,"c":[1,2]}', a)
      local t = {}
      for i = 50, 1, -1 do
        t["k" .. i] = i
      end
      local u = {}
      for i = 1, 50 do
        u["k" .. i] = i
      end
      assert.are.equal(json.encode(t), json.encode(u))
    end)

    it("tells arrays from objects", function()
      assert.are.equal("{}", json.encode {})
      assert.are.equal("[]", json.encode(json.array()))
      assert.are.equal("[]", json.encode(json.array {}))
      assert.are.equal("{}", json.encode(json.object()))
      assert.are.equal('[1,"a",true]', json.encode { 1, "a", true })
      assert.are.equal("[]", json.encode(json.decode "[]"))
      assert.are.equal('{"a":[]}', json.encode(json.decode '{"a":[]}'))
      assert.are.equal('[1,null,3]', json.encode(json.array { 1, json.null, 3 }))
      local t = { 1, 2 }
      assert.are.equal(t, json.array(t))
      assert.are.equal(json.array_mt, getmetatable(t))
    end)

    it("writes numbers without spurious decimals and round-trips floats", function()
      assert.are.equal("[1,-3,0,1e+300,0.1,2.5]", json.encode { 1.0, -3.0, 0.0, 1e300, 0.1, 2.5 })
      assert.are.equal("9223372036854775807", json.encode(math.maxinteger))
      for _, x in ipairs { 0.1, 1 / 3, 2 ^ -40, 123.456e-200, -9.87654321e100 } do
        assert.are.equal(x, json.decode(json.encode(x)))
      end
    end)

    it("round-trips documents", function()
      local text = '{"architecture":"amd64","config":{"Env":["A=1"],"Labels":{}},"history":[]}'
      assert.are.equal(text, json.encode(json.decode(text)))
      local s = "quote\" backslash\\ nl\n tab\t ctl\1 é 中 😀"
      assert.are.equal(s, json.decode(json.encode(s)))
      assert.are.equal('"quote\\" backslash\\\\ nl\\n tab\\t ctl\\u0001 é 中 😀"', json.encode(s))
    end)

    it("pretty-prints with opts.indent", function()
      assert.are.equal('{\n    "a": [\n        1\n    ],\n    "b": {}\n}',
        json.encode({ a = { 1 }, b = json.object() }, { indent = 4 }))
      assert.are.equal('{\n  "a": 1\n}', json.encode({ a = 1 }, { indent = 2 }))
    end)

    it("returns nil, msg, code for data JSON cannot hold", function()
      local s, msg, code = json.encode { "ok", "\xff\xfe" }
      assert.is_nil(s)
      assert.matches("UTF-8", msg, 1, true)
      assert.are.equal("EINVAL", code)
      s, msg, code = json.encode { ["\xff"] = 1 }
      assert.is_nil(s)
      assert.matches("UTF-8", msg, 1, true)
      assert.are.equal("EINVAL", code)
      for _, x in ipairs { 0 / 0, math.huge, -math.huge } do
        s, msg, code = json.encode { x = x }
        assert.is_nil(s)
        assert.are.equal("EINVAL", code)
        assert.is_string(msg)
      end
    end)

    it("raises on misuse", function()
      assert.error_matches(function()
        json.encode { [true] = 1 }
      end, "keys must be strings", 1, true)
      assert.error_matches(function()
        json.encode { 1, 2, x = 3 }
      end, "keys must be strings", 1, true)
      assert.error_matches(function()
        json.encode { [2] = "hole" }
      end, "keys must be strings", 1, true)
      assert.error_matches(function()
        json.encode(json.object { 1 })
      end, "keys must be strings", 1, true)
      assert.error_matches(function()
        json.encode { f = print }
      end, "cannot encode a function", 1, true)
      assert.error_matches(function()
        json.encode(io.stdout)
      end, "cannot encode a userdata", 1, true)
      local cyc = {}
      cyc.self = cyc
      assert.error_matches(function()
        json.encode(cyc)
      end, "a cycle?", 1, true)
      assert.error_matches(function()
        json.encode()
      end, "value expected")
      assert.error_matches(function()
        json.encode({}, { indent = "x" })
      end, "must be an integer")
      assert.error_matches(function()
        json.encode({}, { indent = -1 })
      end, "indent must be between")
      assert.error_matches(function()
        json.array(1)
      end, "table expected")
    end)

    it("leaks nothing when it raises half-way", function()
      collectgarbage()
      local before = collectgarbage "count"
      for _ = 1, 2000 do
        pcall(json.encode, { a = { 1, 2, 3 }, b = { c = { "x", "y" } }, z = { [true] = 1 } })
      end
      collectgarbage()
      collectgarbage()
      assert.is_true(collectgarbage "count" < before + 200)
    end)
  end)
end)
