-- rules.lua - rspamd's rules entry point for the benchmark: the globals rspamd.lua sets
-- up, without loading its regexp/header/content rule files.
require "global_functions" ()
config['regexp'] = {}
rspamd_maps = {}
