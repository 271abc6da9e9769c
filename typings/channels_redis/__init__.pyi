# Type stubs for the parts of channels_redis 4.x that the tests of the "channels_redis"
# wire format use (channels_redis ships none).
