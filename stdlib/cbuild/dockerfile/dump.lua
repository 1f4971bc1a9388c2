-- Render a parsed Dockerfile exactly as BuildKit's Node.Dump() does (plus the final newline its
-- parser tests add), so `cbuild debug parse` output can be compared with BuildKit's fixtures.
local text = require "cbuild.dockerfile.text"

local M = {}

local concat = table.concat
local quote, quote_list, lower = text.quote, text.quote_list, text.lower

--- One instruction as an s-expression body, without the surrounding parentheses.
function M.node(node)
  local parts = { lower(node.value or node.cmd) }
  if node.flags and #node.flags > 0 then
    parts[#parts + 1] = quote_list(node.flags)
  end
  if node.sub then
    parts[#parts + 1] = "(" .. M.node(node.sub) .. ")"
  else
    for _, a in ipairs(node.args) do
      parts[#parts + 1] = quote(a)
    end
  end
  -- Go trims the result; only the keyword can carry white space at its edges
  return (text.trim_space(concat(parts, " ")))
end

--- The whole AST: one "(...)" line per instruction, newline-terminated.
function M.dump(ast)
  local lines = {}
  for i, node in ipairs(ast.children) do
    lines[i] = "(" .. M.node(node) .. ")"
  end
  return (text.trim_space(concat(lines, "\n"))) .. "\n"
end

return M
