// Signup form: debounced /classify of the family name alone (a given name only adds noise: README) pre-selects the
// most likely country when the answer is confident; the user can always override. An unsure answer only lists
// suggestions: pre-selecting a guess invites signing up with it.
const $ = (id) => document.getElementById(id);
const regionName = (code) => {
  try { return new Intl.DisplayNames(["en"], { type: "region" }).of(code); } catch (e) { return code; }
};
for (const opt of $("country").options) if (opt.value) opt.textContent = `${regionName(opt.value)} (${opt.value})`;

let userChoseCountry = false, timer = null, seq = 0;
$("country").addEventListener("change", () => { userChoseCountry = true; });

function showHint(text, cls = "") { $("hint").textContent = text; $("hint").className = "hint " + cls; }

async function postJSON(path, body) {
  const resp = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return { ok: resp.ok, body: await resp.json() };
}

function select(code) {
  const known = [...$("country").options].some((o) => o.value === code);
  if (known) $("country").value = code;
  return known;
}

// Until the user picks a country, the page's pre-selection follows the latest answer: the country of a
// confident one, else none (an earlier name's country must not linger for this one).
function autoSelect(code) {
  if (!userChoseCountry && !(code && select(code))) $("country").value = "";
}

async function suggest(name) {
  const mine = ++seq;
  $("suggestions").innerHTML = "";
  if (!name.trim()) { autoSelect(""); showHint(""); return; }
  let res;
  try { res = await postJSON("/classify", { name, top_k: 3 }); } catch (e) {
    if (mine === seq) { autoSelect(""); showHint("Suggestions are unavailable right now.", "warn"); }
    return;
  }
  if (mine !== seq) return; // a newer keystroke won
  const preds = res.ok ? res.body.predictions || [] : [];
  if (!res.ok || preds.length === 0) {
    autoSelect("");
    showHint("We couldn't suggest a country for that name — please pick one.", "warn");
    return;
  }
  for (const p of preds) {
    const li = document.createElement("li");
    const code = p.countries[0];
    li.textContent = `${p.language} — ${Math.round(p.probability * 100)}% (${regionName(code)})`;
    const use = document.createElement("button");
    use.type = "button"; use.textContent = "use";
    use.addEventListener("click", () => { userChoseCountry = true; select(code); });
    li.appendChild(use);
    $("suggestions").appendChild(li);
  }
  const unsure = res.body.low_confidence;
  const foreign = res.body.other_language_evidence || [];
  autoSelect(unsure ? "" : preds[0].countries[0]);
  showHint(foreign.length
             ? `Your name has ${foreign.join(" ")}, which none of the languages we know writes — please pick your country.`
           : unsure ? "Not sure about this name — please pick your country (suggestions below)."
                    : "Country suggested from your name; change it if it's wrong.", unsure ? "warn" : "");
}

$("name").addEventListener("input", (e) => { clearTimeout(timer); timer = setTimeout(() => suggest(e.target.value), 300); });
$("signup").addEventListener("submit", (e) => { e.preventDefault(); showHint(`Thanks! Country: ${$("country").value || "not chosen"}.`); });

$("review").addEventListener("submit", async (e) => {
  e.preventDefault();
  const v = $("verdict");
  const text = $("entity").value;
  if (!text.trim()) { v.textContent = "Type a candidate entity first."; v.className = "hint warn"; return; }
  try {
    const res = await postJSON("/review-entity", { text });
    if (!res.ok) { v.textContent = res.body.error ? res.body.error.message : "Could not review that text."; v.className = "hint warn"; return; }
    const unknown = res.body.unknown_characters || [];
    v.textContent = `${res.body.valid ? "Valid" : "Not a valid"} medical entity (score ${res.body.score.toFixed(2)})` +
      (unknown.length ? `; characters the reviewer does not know: ${unknown.join(" ")}` : "");
    v.className = "hint " + (res.body.valid ? "valid" : "invalid");
  } catch (err) { v.textContent = "Review is unavailable right now."; v.className = "hint warn"; }
});
