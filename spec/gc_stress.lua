-- busted --helper for the GC-stress pass (STYLE.md 4.4, luv's "aggressive GC" job): no pause
-- between cycles and the largest step, so a binding that forgets to keep a value alive, or
-- frees something twice in __gc/__close, fails here first.
collectgarbage("incremental", 100, 1000)
