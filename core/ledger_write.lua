-- Record accepted pieces: KEYS are the pieces' keys, ARGV[1] the entries' lifetime in
-- seconds, ARGV[1 + i] the receipt of KEYS[i]. One call for a batch of sends.
for i, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[i + 1], 'EX', ARGV[1])
end
return #KEYS
