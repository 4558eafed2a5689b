# state_machine_bench: insert/get/update/CAS/claim on both engines (added as it lands)
