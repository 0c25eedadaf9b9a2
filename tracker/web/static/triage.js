// One click per decision: post the triage forms to the canned queries with _json=1 and update
// the card in place. Without JavaScript the same forms post normally and come back here.
(function () {
  const status = document.getElementById("triage-status");

  function say(message, isError) {
    status.textContent = message;
    status.className = isError ? "error-inline" : "";
  }

  async function send(form, extra) {
    const body = new URLSearchParams(new FormData(form));
    for (const [key, value] of Object.entries(extra || {})) body.set(key, value);
    body.set("_json", "1");
    const response = await fetch(form.action, {
      method: "POST",
      body: body,
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (!response.ok) return { ok: false, message: `The server said ${response.status}: are you still logged in?` };
    return response.json();
  }

  function label(select, slug) {
    const option = Array.from(select.options).find((o) => o.value === slug);
    return option ? option.textContent : slug;
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    const card = form.closest(".candidate");
    if (!card) return;
    event.preventDefault();
    const button = event.submitter;
    const extra = button && button.name ? { [button.name]: button.value } : {};
    form.querySelectorAll("button").forEach((b) => (b.disabled = true));
    let result;
    try {
      result = await send(form, extra);
    } catch (error) {
      result = { ok: false, message: "Could not reach the server." };
    }
    form.querySelectorAll("button").forEach((b) => (b.disabled = false));
    const title = card.querySelector("h2").textContent.trim();
    if (!result.ok) {
      say(`${title}: ${result.message}`, true);
      return;
    }
    if (form.action.endsWith("/set_status")) {
      const decision = extra.status;
      card.classList.add("done");
      const note = document.createElement("p");
      note.className = "decision";
      note.textContent = decision === "accepted" ? "Accepted" : "Rejected";
      form.replaceWith(note);
      say(`${decision === "accepted" ? "Accepted" : "Rejected"}: ${title}`);
    } else if (form.action.endsWith("/remove_theme")) {
      const slug = form.querySelector("input[name=theme]").value;
      const select = card.querySelector(".add-theme select");
      const option = document.createElement("option");
      option.value = slug;
      option.textContent = form.querySelector("span").textContent;
      select.appendChild(option);
      form.remove();
      say(`${result.message}: ${title}`);
    } else if (form.action.endsWith("/add_theme")) {
      const select = form.querySelector("select");
      const slug = select.value;
      const template = document.createElement("form");
      template.className = "chip";
      template.method = "post";
      template.action = form.action.replace(/add_theme$/, "remove_theme");
      for (const [name, value] of [["csrftoken", form.querySelector("input[name=csrftoken]").value], ["id", card.dataset.id], ["theme", slug]]) {
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        input.value = value;
        template.appendChild(input);
      }
      const span = document.createElement("span");
      span.textContent = label(select, slug);
      const remove = document.createElement("button");
      remove.type = "submit";
      remove.textContent = "×";
      remove.setAttribute("aria-label", `Remove ${span.textContent}`);
      template.append(span, remove);
      form.before(template);
      select.querySelector(`option[value="${CSS.escape(slug)}"]`).remove();
      say(`${result.message}: ${title}`);
    }
  });
})();
