"""Real-world variants of demo series: what scanners, PACS and workstations write."""
