# Fault-injection campaigns (tools/campaign.py, guest/workloads/campaign.sh) and their report
# (tools/campaign_report.py). Included by the top-level Makefile after mk/agent.mk (it uses its variables).
#
#   make campaign          run (or resume) the campaign into $(CAMPAIGN_DIR), then make its report
#   make campaign-report   $(CAMPAIGN_DIR)/report.md, report.png and summary.json from results.jsonl
# Variables: CAMPAIGN_DRIVERS (comma-separated, default all), CAMPAIGN_SEEDS (A-B), CAMPAIGN_ENV,
# CAMPAIGN_JOBS (Bochs at once), CAMPAIGN_SHARD (i/N: this machine's share; merge the results.jsonl files of all
# shards, with their runs/ directories, by concatenation), CAMPAIGN_DIR.

CAMPAIGN_DIR     ?= $(BUILD)/campaign
CAMPAIGN_DRIVERS ?= e1000,ne2k-pci,snd-ens1370,ata_piix,usb-storage,sd_mod
CAMPAIGN_SEEDS   ?= 1-50
CAMPAIGN_ENV     ?= plain,isolated
CAMPAIGN_JOBS    ?= 2
CAMPAIGN_SHARD   ?= 0/1
CAMPAIGN_RESULTS := $(CAMPAIGN_DIR)/results.jsonl

.PHONY: campaign campaign-run campaign-report
campaign: deps-check
	@$(MAKE) --no-print-directory campaign-run
	@$(MAKE) --no-print-directory campaign-report

campaign-run: $(BUILD)/hv.elf $(ISOLATION_INITRAMFS) | $(LINUX_BZIMAGE)
	$(PYTHON) tools/campaign.py --drivers $(CAMPAIGN_DRIVERS) --seeds $(CAMPAIGN_SEEDS) --env $(CAMPAIGN_ENV) \
	    --jobs $(CAMPAIGN_JOBS) --shard $(CAMPAIGN_SHARD) --out $(CAMPAIGN_RESULTS)

campaign-report:
	$(PYTHON) tools/campaign_report.py $(CAMPAIGN_RESULTS) --md $(CAMPAIGN_DIR)/report.md \
	    --png $(CAMPAIGN_DIR)/report.png --json $(CAMPAIGN_DIR)/summary.json
	@echo "campaign-report: $(CAMPAIGN_DIR)/report.md, report.png, summary.json"
