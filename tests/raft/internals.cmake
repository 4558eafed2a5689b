# Unit tests of the core's internal pieces (log, progress, quorum), written with the core.
