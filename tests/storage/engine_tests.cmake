# Engines: conformance, crash tests. (suites are added as they land)
