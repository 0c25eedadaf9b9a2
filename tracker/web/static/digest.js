// Copy the newsletter's list alone: rich text (the links) and plain text, one line each.
(function () {
  const button = document.getElementById("copy-digest");
  const status = document.getElementById("copy-status");
  const list = document.getElementById("digest-list");
  const text = document.getElementById("digest-text").textContent;
  button.addEventListener("click", async () => {
    // The lines as they read, without the editors' "edit" links.
    const html = Array.from(list.querySelectorAll("p:not(.empty)"), (p) => {
      const line = p.cloneNode(true);
      line.querySelectorAll(".line-edit").forEach((link) => link.remove());
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
