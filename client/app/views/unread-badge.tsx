/** The count of unread messages beside a contact or the widget's launcher; nothing when there are none. */
export function UnreadBadge({ count }: { count: number }) {
	if (count <= 0) return null;
	return (
		<span class="badge">
			{count}
			<span class="visually-hidden"> unread</span>
		</span>
	);
}
