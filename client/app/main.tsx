import { render } from "preact";
import { useEffect, useState } from "preact/hooks";

/**
 * The web app's shell. The chat UI is built on the client SDK (client/core/sdk.ts); until
 * it lands this page shows whether the relay API answers, so `npm start` can be checked.
 */
function RelayStatus() {
	const [status, setStatus] = useState("checking the relay…");
	useEffect(() => {
		fetch("/api/auth/challenge", { method: "POST", body: "{}" })
			.then((r) => setStatus(r.ok ? "The relay is up and answering." : `The relay answered ${r.status}.`))
			.catch(() => setStatus("The relay cannot be reached."));
	}, []);
	return (
		<section>
			<h1>Secure Messaging</h1>
			<p>{status}</p>
		</section>
	);
}

const root = document.getElementById("app");
if (root) render(<RelayStatus />, root);
