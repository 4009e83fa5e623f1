"""metagate.reports"""
