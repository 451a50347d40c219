# SPDX-License-Identifier: LGPL-2.1-or-later
# bash completion for ioasidctl: verbs, sub-commands, each verb's own options, option values,
# PCI addresses (BDFs) and lease ids.
#
# The verbs and options are read from the program itself (`ioasidctl --help` and
# `ioasidctl VERB --help`), so they follow its verb table. BDFs come from
# `ioasidctl devices` and lease ids from `ioasidctl leases`, with the --host, --socket and
# --config given on the line, so a completion shows what that command would see.

_ioasidctl_verbs() {
	"$1" --help 2>/dev/null | awk '/^Verbs:/ { v = 1; next } /^$/ { v = 0 } v && NF { print $1 }' |
		sort -u
}

# The sub-commands of a verb: the second word of its usage lines, when it is a literal word.
_ioasidctl_subs() {
	"$1" "$2" --help 2>/dev/null |
		awk -v verb="$2" '$1 == "Usage:" && $4 == verb && $5 ~ /^[a-z]+$/ { print $5 }' |
		sort -u
}

# The options of a verb (or of one sub-command), global ones included.
_ioasidctl_options() {
	"$1" "${@:2}" --help 2>/dev/null | grep -oE -- '(^| )--[a-z][a-z-]*' | tr -d ' ' | sort -u
}

_ioasidctl() {
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion -n = || return
	else
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
	fi
	local prog=${words[0]}
	local -a ctx=() pos=()
	local i w verb= sub=

	# Options that take a value (as the next word), and the context options passed on.
	local with_value='--host|--socket|--config|--output|--mode|--device|--iommu-group|--pool|--count|--layout|--lifetime|--fds-from|--for|--expire|--user|--group|--unit|--cgroup|--label|--driver|--root|--vdpa|--mgmtdev|--cdi-version'
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		if [[ $w == -- ]]; then
			# After "run ... --": the command's own words.
			[[ $verb == run ]] && return 0
			continue
		fi
		if [[ $w =~ ^($with_value)$ ]]; then
			[[ $w =~ ^--(host|socket|config)$ ]] && ctx+=("$w" "${words[i + 1]}")
			((i++))
			continue
		fi
		if [[ $w =~ ^--(host|socket|config)= ]]; then
			ctx+=("$w")
			continue
		fi
		[[ $w == -* ]] && continue
		pos+=("$w")
	done
	verb=${pos[0]:-}
	sub=${pos[1]:-}

	case $prev in
	--mode)
		COMPREPLY=($(compgen -W 'attached unbound' -- "$cur"))
		return 0
		;;
	--lifetime)
		COMPREPLY=($(compgen -W 'connection process' -- "$cur"))
		return 0
		;;
	--driver)
		COMPREPLY=($(compgen -W 'vfio-pci' -- "$cur"))
		return 0
		;;
	--root)
		COMPREPLY=($(compgen -d -- "$cur"))
		return 0
		;;
	--host | --config | --socket | --output)
		COMPREPLY=($(compgen -f -- "$cur"))
		return 0
		;;
	--device)
		COMPREPLY=($(compgen -W "$(_ioasidctl_bdfs "$prog" "${ctx[@]}")" -- "$cur"))
		return 0
		;;
	--iommu-group)
		COMPREPLY=($(compgen -W "$("$prog" "${ctx[@]}" devices --no-legend 2>/dev/null |
			grep -oE ' group=[0-9]+' | cut -d= -f2 | sort -un)" -- "$cur"))
		return 0
		;;
	--for | --user)
		COMPREPLY=($(compgen -u -- "$cur"))
		return 0
		;;
	--group)
		COMPREPLY=($(compgen -g -- "$cur"))
		return 0
		;;
	--pool | --count | --layout | --fds-from | --expire | --unit | --cgroup | --label | --vdpa)
		return 0
		;;
	esac

	if [[ $cur == --json=* ]]; then
		COMPREPLY=($(compgen -P --json= -W 'pretty short off' -- "${cur#--json=}"))
		return 0
	fi
	if [[ $cur == -* ]]; then
		local -a scope=()
		[[ -n $verb ]] && scope=("$verb")
		[[ -n $sub ]] && scope+=("$sub")
		COMPREPLY=($(compgen -W "$(_ioasidctl_options "$prog" "${scope[@]}")" -- "$cur"))
		return 0
	fi

	if [[ -z $verb ]]; then
		COMPREPLY=($(compgen -W "$(_ioasidctl_verbs "$prog")" -- "$cur"))
		return 0
	fi
	local npos=${#pos[@]}
	case $verb in
	acquire)
		COMPREPLY=($(compgen -W "$(_ioasidctl_bdfs "$prog" "${ctx[@]}")" -- "$cur"))
		;;
	show | bind | restore)
		[[ $npos == 1 ]] &&
			COMPREPLY=($(compgen -W "$(_ioasidctl_bdfs "$prog" "${ctx[@]}")" -- "$cur"))
		;;
	release | revoke)
		[[ $npos == 1 ]] &&
			COMPREPLY=($(compgen -W "$("$prog" "${ctx[@]}" leases --no-legend 2>/dev/null |
				awk '$1 != "No" { print $1 }')" -- "$cur"))
		;;
	policy | layout | stage | vdpa)
		if [[ $npos == 1 ]]; then
			COMPREPLY=($(compgen -W "$(_ioasidctl_subs "$prog" "$verb")" -- "$cur"))
		elif [[ $verb == policy && $sub == check && $npos == 2 ]]; then
			COMPREPLY=($(compgen -f -- "$cur"))
		elif [[ $verb == layout && $npos == 2 && $sub != list ]]; then
			COMPREPLY=($(compgen -W "$("$prog" "${ctx[@]}" layout list --no-legend 2>/dev/null |
				awk '{ print $1 }')" -- "$cur"))
		elif [[ $verb == stage && $sub == drop && $npos == 2 ]]; then
			COMPREPLY=($(compgen -W "$("$prog" "${ctx[@]}" stage list 2>/dev/null |
				awk 'NR > 1 { print $1 }')" -- "$cur"))
		fi
		;;
	esac
	return 0
}

_ioasidctl_bdfs() {
	"$1" "${@:2}" devices --no-legend 2>/dev/null | awk '{ print $1 }'
}

complete -F _ioasidctl ioasidctl
