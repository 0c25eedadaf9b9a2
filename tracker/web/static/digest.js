// Copy the newsletter's list alone: rich text (the links) and plain text, one line each.
(function () {
  const button = document.getElementById("copy-digest");
  const status = document.getElementById("copy-status");
  const list = document.getElementById("digest-list");
  const text = document.getElementById("digest-text").textContent;
  button.addEventListener("click", async () => {
    // The lines as they read, in the list's own order (the page shows the ones new since the
    // last issue first), without the editors' "edit" links or the "in the issue of" marks.
    const lines = Array.from(list.querySelectorAll("p:not(.empty)"));
    lines.sort((a, b) => Number(a.dataset.order || 0) - Number(b.dataset.order || 0));
    const html = lines.map((p) => {
      const line = p.cloneNode(true);
      line.querySelectorAll(".line-edit, .earlier-mark").forEach((part) => part.remove());
      line.removeAttribute("data-order");
      line.removeAttribute("class");
      line.innerHTML = line.innerHTML.trim();
      return line.outerHTML;
    }).join("\n");
    try {
      if (window.ClipboardItem) {
        await navigator.clipboard.write([new ClipboardItem({
          "text/html": new Blob([html], { type: "text/html" }),
          "text/plain": new Blob([text], { type: "text/plain" }),
        })]);
      } else {
        await navigator.clipboard.writeText(text);
      }
      status.textContent = "Copied.";
    } catch (error) {
      const range = document.createRange();
      range.selectNodeContents(list);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      status.textContent = "Selected: press Ctrl-C (or Cmd-C) to copy.";
    }
  });
})();

// Mark this issue sent: only Reopen undoes it, so ask first. Without JavaScript the form's GET
// shows a page that asks; here confirm() asks and the POST goes straight on.
(function () {
  const form = document.querySelector("form.mark-sent[method=get]");
  if (!form) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const count = Number(form.dataset.count);
    const question = `Mark the issue of ${form.dataset.week} sent? Its list of ${count} line` +
      `${count === 1 ? "" : "s"} is frozen as it is now and the next issue begins.`;
    if (!window.confirm(question)) return;
    const post = document.createElement("form");
    post.method = "post";
    post.action = form.action;
    const token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrftoken";
    token.value = form.dataset.csrftoken;
    post.appendChild(token);
    document.body.appendChild(post);
    post.submit();
  });
})();
