-- coding_agent.lua: a coding agent's Messages request for bench/instructions.sh,
-- shaped like the ones a coding tool sends in the middle of a session: a
-- long system prompt in two blocks with cache_control, 24 tool definitions,
-- and a history of 40 turns in which the assistant calls tools and the
-- user turns carry their results (source files, command output), about
-- 120 KB in all. Deterministic: the same bytes every time.
local function source_file(n)
  local lines = {}
  for i = 1, 60 do
    lines[i] = string.format("    if (rc = step_%d_%d(ctx, buf, len)) != 0 { log(\\\"step %d failed\\\"); return rc; }", n, i, i)
  end
  return table.concat(lines, "\\n")
end

function coding_agent_body()
  local sys = {}
  for i = 1, 40 do
    sys[i] = string.format("Rule %d: when you edit a file, read it first, keep its style, run the tests, and report what changed and why in one short paragraph.", i)
  end
  local system = string.format([=[[{"type":"text","text":"You are a coding agent working in the user's repository.","cache_control":{"type":"ephemeral"}},{"type":"text","text":"%s","cache_control":{"type":"ephemeral"}}]]=], table.concat(sys, "\\n"))
  local tools = {}
  for i = 1, 24 do
    tools[i] = string.format([[{"name":"tool_%d","description":"Reads a file from the local filesystem. You can access any file directly by using this tool. Assume this tool is able to read all files on the machine.","input_schema":{"type":"object","properties":{"file_path":{"type":"string","description":"The absolute path to the file to read"},"offset":{"type":"number","description":"The line number to start reading from"},"limit":{"type":"number","description":"The number of lines to read"}},"required":["file_path"],"additionalProperties":false}}]], i)
  end
  local msgs = {[[{"role":"user","content":"The parser tests fail since yesterday's change to src/parse.c. Find out why and fix it."}]]}
  for i = 1, 20 do
    msgs[#msgs + 1] = string.format([[{"role":"assistant","content":[{"type":"text","text":"Let me read file %d."},{"type":"tool_use","id":"toolu_%02d","name":"tool_1","input":{"file_path":"/repo/src/file_%d.c"}}]}]], i, i, i)
    msgs[#msgs + 1] = string.format([[{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_%02d","content":"%s"}]}]], i, source_file(i))
  end
  msgs[#msgs + 1] = [[{"role":"user","content":[{"type":"text","text":"Now fix the failing step and run the tests again.","cache_control":{"type":"ephemeral"}}]}]]
  return string.format([[{"model":"auto","max_tokens":8192,"stream":false,"system":%s,"tools":[%s],"messages":[%s]}]],
    system, table.concat(tools, ","), table.concat(msgs, ","))
end
