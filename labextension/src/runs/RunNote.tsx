/**
 * A run's Markdown note (MLflow's `mlflow.note.content`, what MLflow's UI
 * shows as the run's description): shown rendered, edited as text.
 *
 * Rendering goes through JupyterLab's own Markdown renderer as *untrusted*
 * content, so its sanitizer removes scripts, event handlers and `javascript:`
 * links, and nothing in it runs. Without a renderer (no rendermime registry)
 * the note is shown as plain text. It is never put into the page as HTML by
 * this code.
 */
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import React, { useEffect, useRef, useState } from 'react';

import { MAX_VALUE_LENGTH } from './runEdit';

/** The note rendered by JupyterLab's untrusted Markdown renderer. */
function MarkdownNote(props: {
  text: string;
  rendermime: IRenderMimeRegistry;
}): JSX.Element {
  const host = useRef<HTMLDivElement>(null);
  const { text, rendermime } = props;
  useEffect(() => {
    const node = host.current;
    if (!node) {
      return;
    }
    const renderer = rendermime.createRenderer('text/markdown');
    const model = rendermime.createModel({
      data: { 'text/markdown': text },
      trusted: false
    });
    // The renderer's node goes into ours; it is never attached as a Lumino
    // widget (React may remove our node before this effect's cleanup runs).
    let live = true;
    void renderer.renderModel(model).then(() => {
      if (live && !renderer.isDisposed) {
        node.replaceChildren(renderer.node);
      }
    });
    return () => {
      live = false;
      renderer.node.remove();
      renderer.dispose();
    };
  }, [text, rendermime]);
  return <div className="jp-mlops-note-markdown" ref={host} />;
}

export interface IRunNoteProps {
  note: string;
  /** JupyterLab's renderers; the note is plain text without them. */
  rendermime: IRenderMimeRegistry | null;
  /** Show the Edit button. */
  editable: boolean;
  busy: boolean;
  /** Save the note ('' removes it); resolves once saved. */
  onSave: (text: string) => Promise<boolean>;
}

/** The note, rendered, with an editor for those who may edit runs. */
export function RunNote(props: IRunNoteProps): JSX.Element {
  const [draft, setDraft] = useState<string | null>(null);
  const { note, rendermime } = props;
  if (draft !== null) {
    const tooLong = draft.length > MAX_VALUE_LENGTH;
    return (
      <div className="jp-mlops-note" data-testid="mlops-run-note">
        <textarea
          className="jp-mlops-note-editor"
          data-testid="mlops-note-input"
          aria-label="Run note (Markdown)"
          value={draft}
          rows={6}
          onChange={e => setDraft(e.target.value)}
        />
        {tooLong ? (
          <div className="jp-mlops-action-error" role="alert">
            A note has at most {MAX_VALUE_LENGTH} characters.
          </div>
        ) : null}
        <div className="jp-mlops-run-actions-bar">
          <button
            className="jp-mlops-button jp-mod-accept"
            data-testid="mlops-note-save"
            disabled={props.busy || tooLong}
            onClick={() =>
              void props.onSave(draft).then(ok => ok && setDraft(null))
            }
          >
            Save note
          </button>
          <button className="jp-mlops-button" onClick={() => setDraft(null)}>
            Cancel
          </button>
        </div>
      </div>
    );
  }
  return (
    <div className="jp-mlops-note" data-testid="mlops-run-note">
      {!note ? (
        <div className="jp-mlops-muted">No note.</div>
      ) : rendermime ? (
        <MarkdownNote text={note} rendermime={rendermime} />
      ) : (
        <div className="jp-mlops-note-text">{note}</div>
      )}
      {props.editable ? (
        <button
          className="jp-mlops-button"
          data-testid="mlops-note-edit"
          disabled={props.busy}
          onClick={() => setDraft(note)}
        >
          {note ? 'Edit note' : 'Add a note'}
        </button>
      ) : null}
    </div>
  );
}
