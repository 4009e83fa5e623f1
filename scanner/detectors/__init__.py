"""metagate.scanner.detectors"""
