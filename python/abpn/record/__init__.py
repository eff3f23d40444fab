"""The result-record contract that the benchmarks produce and the collector stores.

schema/      one JSON Schema file per version; result_record.schema.json is the current contract
schemas.py   every version, validated by one validator; the OpenAPI models derive from the same files
build.py     the pieces every producer shares: sections, latency statistics, the output check
chipsets.py  one chipset name for every spelling a phone reports
"""
