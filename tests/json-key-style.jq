# The keys of a document that break the CLI's key style (snake_case: no upper case letter),
# as an array; [] when the style holds. The members of "properties" (a device's udev
# properties in a snapshot) are data, not keys of ours, and keep their own names.
# Used by the inspect and integration tiers: jq -c -f tests/json-key-style.jq
[paths | . as $p | range(0; length) as $i
	| select(($p[$i] | type) == "string" and ($i == 0 or $p[$i - 1] != "properties"))
	| $p[$i]]
| unique | map(select(test("[A-Z]")))
