# Document state machine: unit, model and claim tests. (suites are added as they land)
