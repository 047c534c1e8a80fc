# Registered modules are imported here so that importing okdhp_mm registers them.
