# Type stubs for the parts of Django Channels 4.x that the tests of the "channels_redis"
# wire format use (Channels ships none).
