# The embedded default input: synthetic couples on SOC2020 units x empst3 statuses from a known structure.


rule simulate_demo:
    input:
        classification=[f"{config['classifications']}/soc2020.{ext}" for ext in ("tsv", "yaml")],
        psds="data/psds/gb_soc2020.tsv",
        scheme=[f"{config['statuses']}/empst3.{ext}" for ext in ("tsv", "yaml")],
    output:
        couples="resources/demo/gb_soc2020_demo.dta",
        truth="resources/demo/gb_soc2020_demo_truth.tsv",
        truth_by_status="resources/demo/gb_soc2020_demo_truth_by_status.tsv",
    params:
        couples=config["demo"]["couples"],
        seed=config["demo"]["seed"],
    log:
        "logs/demo/simulate_demo.log",
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/simulate_demo.py"
