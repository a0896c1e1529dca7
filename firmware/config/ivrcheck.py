"""Cross-reference checks of the IVR flows: what :mod:`firmware.config.validate` runs at save.

One line per problem, starting with the field's path (``ivr_flows[0].nodes[2].next: node
'menu2' does not exist``):

- flow names are unique; node ids are unique within a flow; ``start`` and every node a node
  leads to (``next``, a choice's ``next``, ``no_input``, ``no_match``, ``closed``) exist;
- no node is unreachable from ``start`` (a node nobody can reach is a mistake, not a spare);
- no loop without input: a cycle through nodes that never wait for the caller (play, say,
  set, lookup, time condition) would spin for ever;
- prompts: every prompt a flow plays has words for every language the flow offers; menus and
  collect nodes have a prompt; a set node's language is one the flow offers;
- time conditions name an existing schedule; goto destinations exist (through the same
  checks as routes' destinations, the toll rules of an ``outside`` number included); a goto
  to another flow names an existing one; queue priority/skills are only set on the way to a
  queue (at least one goto in the flow reaches a queue).

The contacts a lookup node reads are data, not configuration (firmware/contacts/store.py,
which keeps account numbers unique): a lookup that finds nothing takes its ``no_match``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from firmware.config.ivrmodel import IVR_INPUT_NODES, IvrFlow, IvrNode, IvrNodeType, Prompt
from firmware.config.model import Config, Destination, DestinationKind

DestinationProblem = Callable[[Destination], "str | None"]


def edges(node: IvrNode) -> list[tuple[str, str]]:
    """(field, node id) for every node ``node`` can lead to, in field order."""
    out = [("next", node.next)] if node.next else []
    out += [(f"choices[{index}].next", choice.next) for index, choice in enumerate(node.choices)]
    out += [(key, getattr(node, key)) for key in ("no_input", "no_match", "closed") if getattr(node, key)]
    return out


def _reachable(flow: IvrFlow) -> set[str]:
    by_id = {node.id: node for node in flow.nodes}
    seen: set[str] = set()
    todo = [flow.start]
    while todo:
        node_id = todo.pop()
        if node_id in seen or node_id not in by_id:
            continue
        seen.add(node_id)
        todo.extend(target for _field, target in edges(by_id[node_id]))
    return seen


def _loop_without_input(flow: IvrFlow) -> list[str] | None:
    """A cycle of nodes none of which waits for input, or None (depth-first, colours)."""
    by_id = {node.id: node for node in flow.nodes}
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(node_id: str, stack: list[str]) -> list[str] | None:
        node = by_id.get(node_id)
        if node is None or node.type in IVR_INPUT_NODES or state.get(node_id) == 2:
            return None
        if state.get(node_id) == 1:
            return stack[stack.index(node_id):] + [node_id]
        state[node_id] = 1
        for _field, target in edges(node):
            cycle = visit(target, [*stack, node_id])
            if cycle:
                return cycle
        state[node_id] = 2
        return None

    for node in flow.nodes:
        cycle = visit(node.id, [])
        if cycle:
            return cycle
    return None


def _prompt_problems(flow: IvrFlow, prompt: Prompt, path: str, required: bool) -> Iterator[str]:
    given = [language for language, _words in prompt]
    if required and not given:
        yield f"{path}: missing (this node needs a prompt in {', '.join(flow.languages)})"
        return
    if not given:
        return
    for language in flow.languages:
        if language not in given:
            yield f"{path}: no prompt in {language}, a language the flow offers"
    for language in given:
        if language not in flow.languages:
            yield f"{path}.{language}: the flow does not offer {language} (languages: {', '.join(flow.languages)})"


def _node_problems(config: Config, flow: IvrFlow, node: IvrNode, path: str,
                   destination_problem: DestinationProblem) -> Iterator[str]:
    ids = {each.id for each in flow.nodes}
    for field, target in edges(node):
        if target not in ids:
            yield f"{path}.{field}: node {target!r} does not exist in flow {flow.name}"
    yield from _prompt_problems(flow, node.prompt, f"{path}.prompt", node.type in IVR_INPUT_NODES
                                or node.type is IvrNodeType.PLAY)
    yield from _prompt_problems(flow, node.invalid_prompt, f"{path}.invalid_prompt", False)
    for index, choice in enumerate(node.choices):
        for language, _words in choice.words:
            if language not in flow.languages:
                yield (f"{path}.choices[{index}].words.{language}: the flow does not offer {language} "
                       f"(languages: {', '.join(flow.languages)})")
    if node.type is IvrNodeType.SET and node.language and node.language not in flow.languages:
        yield f"{path}.language: {node.language} is not one of the flow's languages ({', '.join(flow.languages)})"
    if node.type is IvrNodeType.TIME_CONDITION and config.schedule(node.schedule) is None:
        yield f"{path}.schedule: schedule {node.schedule} does not exist"
    if node.type is IvrNodeType.GOTO and node.destination is not None:
        if node.destination.kind is DestinationKind.IVR and node.destination.name == flow.name:
            yield f"{path}.destination: a flow cannot go to itself (go to its start node instead)"
        else:
            problem = destination_problem(node.destination)
            if problem:
                yield f"{path}.destination: {problem}"


def flow_problems(config: Config, destination_problem: DestinationProblem) -> Iterator[str]:
    names: dict[str, int] = {}
    for index, flow in enumerate(config.ivr_flows):
        path = f"ivr_flows[{index}]"
        if flow.name in names:
            yield f"{path}.name: flow {flow.name} is already defined at ivr_flows[{names[flow.name]}]"
            continue
        names[flow.name] = index
        seen: dict[str, int] = {}
        for node_index, node in enumerate(flow.nodes):
            if node.id in seen:
                yield f"{path}.nodes[{node_index}].id: node {node.id} is already defined at nodes[{seen[node.id]}]"
            seen.setdefault(node.id, node_index)
        if flow.start not in seen:
            yield f"{path}.start: node {flow.start!r} does not exist in flow {flow.name}"
            continue
        for node_index, node in enumerate(flow.nodes):
            yield from _node_problems(config, flow, node, f"{path}.nodes[{node_index}]", destination_problem)
        reachable = _reachable(flow)
        for node_index, node in enumerate(flow.nodes):
            if node.id not in reachable:
                yield f"{path}.nodes[{node_index}].id: node {node.id} cannot be reached from start ({flow.start})"
        cycle = _loop_without_input(flow)
        if cycle:
            yield f"{path}.nodes: a loop without input ({' -> '.join(cycle)}) would never stop"
        sets_queue = [i for i, node in enumerate(flow.nodes) if node.type is IvrNodeType.SET
                      and (node.queue_priority is not None or node.queue_skills is not None)]
        goes_to_queue = any(node.type is IvrNodeType.GOTO and node.destination is not None
                            and node.destination.kind is DestinationKind.QUEUE for node in flow.nodes)
        if sets_queue and not goes_to_queue:
            yield (f"{path}.nodes[{sets_queue[0]}]: queue_priority/queue_skills need a goto to a queue in the "
                   f"flow")


def recorder_problems(config: Config) -> Iterator[str]:
    """``security.prompt_recorders`` name extensions that exist."""
    for index, number in enumerate(config.security.prompt_recorders):
        if config.extension(number) is None:
            yield f"security.prompt_recorders[{index}]: extension {number} does not exist"


def configured_flow(config: Config, name: str) -> str | None:
    """The destination check of kind ``ivr``: the flow must exist."""
    return None if config.ivr_flow(name) is not None else "no such IVR flow"
