# Schemas, validation and filters. (suites are added as they land)
