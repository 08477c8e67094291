-- POST a message to the URL wrk was given, each request with a body of its own: a unique
-- client_id "<run tag>-<thread>-<counter>" (the run tag is the script's first argument), so
-- the bench can count afterwards how many of these were stored, and how often.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local made = 0
function setup(thread)
  made = made + 1
  thread:set("thread_number", made)
end

local tag = "wrk"
local counter = 0
function init(args)
  tag = args[1] or tag
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"content":"wrk post %d: the quick brown fox jumps over the lazy dog","client_id":"%s-%d-%d"}',
    counter, tag, thread_number or 0, counter)
  return wrk.format("POST", wrk.path, nil, body)
end
