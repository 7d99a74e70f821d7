-- Set the cursor KEYS[2] to ARGV[2] only while ARGV[1] holds the lease KEYS[1]. Returns 1 or 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2])
  return 1
end
return 0
