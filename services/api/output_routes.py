"""Outputs over HTTP: GET/POST /outputs, PATCH/DELETE /outputs/{ref},
POST /outputs/{ref}/test (the same operations as ``feedpipe outputs``).

Every route needs the bearer token when FEEDPIPE_API_TOKEN is set, reading
included: an output's URL says where the data goes. Secrets are write-only:
answers say ``"secret": "set"`` or ``"unset"``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Response, status
from pydantic import BaseModel, Field

from services.api.deps import State, require_token
from shared.outputs import (
    Filters,
    Output,
    OutputConfigError,
    OutputKind,
    OutputSpec,
    send_sample,
)

router = APIRouter(prefix="/outputs", tags=["outputs"], dependencies=[Depends(require_token)])


class NewOutput(BaseModel):
    kind: OutputKind
    url: str = Field(description="https://…, amqp://user:pass@host/vhost or nats://host:4222")
    name: str | None = None
    secret: str | None = Field(default=None, description="webhook signing secret (write-only)")
    exchange: str | None = Field(default=None, description="rabbitmq: topic exchange")
    routing_key: str | None = Field(
        default=None, description="rabbitmq: template with {lang} {feed} {kind}"
    )
    subject: str | None = Field(default=None, description="nats: subject template")
    stream: str | None = Field(default=None, description="nats: JetStream stream")
    filters: list[str] = Field(default_factory=list, examples=[["lang=fr", "kind=new"]])


class OutputChange(BaseModel):
    enabled: bool


async def _found(state: State, ref: str) -> Output:
    output = await state.outputs.resolve(ref)
    if output is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"output {ref} not found")
    return output


@router.get("", summary="Every output with its state, backlog (lag) and delivery health.")
async def list_outputs(state: State) -> list[dict[str, Any]]:
    return await state.outputs.public(await state.outputs.all())


@router.post("", status_code=status.HTTP_201_CREATED, summary="Add an output.")
async def add_output(state: State, body: NewOutput) -> dict[str, Any]:
    try:
        spec = OutputSpec(
            **body.model_dump(exclude={"filters"}), filters=Filters.parse(body.filters)
        )
        output = await state.outputs.add(
            spec, allow_private_networks=state.settings.allow_private_networks
        )
    except OutputConfigError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    return (await state.outputs.public([output]))[0]


@router.patch("/{ref}", summary="Enable or disable an output (its queued backlog is kept).")
async def change_output(state: State, ref: str, body: OutputChange) -> dict[str, Any]:
    output = await _found(state, ref)
    reason = None if body.enabled else "disabled through the API"
    await state.outputs.set_enabled(output.output_id, body.enabled, reason=reason)
    return (await state.outputs.public([await _found(state, output.output_id)]))[0]


@router.delete(
    "/{ref}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove an output and its backlog."
)
async def remove_output(state: State, ref: str) -> Response:
    if await state.outputs.remove(ref) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"output {ref} not found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{ref}/test", summary="Send the sample article once; the receiver's answer.")
async def test_output(state: State, ref: str) -> dict[str, Any]:
    output = await _found(state, ref)
    attempt = await send_sample(output, state.settings)
    return {
        "result": attempt.verdict.value,
        "detail": attempt.detail,
        "status": attempt.status,
        "answer": attempt.answer,
    }
