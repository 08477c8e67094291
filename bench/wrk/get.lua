-- GET the URL wrk was given, as it is (static requests: wrk builds them once), and report.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")
