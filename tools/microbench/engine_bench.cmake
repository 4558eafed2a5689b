# engine_bench: engine put/get/scan on both engines (added as it lands)
